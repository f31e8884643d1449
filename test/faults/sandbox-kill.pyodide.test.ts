import { sandboxKillSuite } from './sandbox-kill-suite.js';

sandboxKillSuite('pyodide');

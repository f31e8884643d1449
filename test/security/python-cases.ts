import type { PythonBackendName } from '../../sandbox/index.js';
import { CANARY_VALUE, PROBE_PATH, type HostileCase, type Outcome } from './corpus.js';


/** What the host gives the corpus: which backend, and whether bubblewrap namespaces are in force. */
export interface PythonCorpusHost {
  backend: PythonBackendName;
  /** Namespaces (network, pid, mount) around each sandbox; without them the cases that test those walls skip. */
  namespaces: boolean;
  /** Why there are no namespaces (for the loud skip). */
  isolationReason?: string | undefined;
  /**
   * Each process sandbox has a fresh /proc of its own pid namespace. Bubblewrap mounts one where the
   * kernel allows it; inside a container whose /proc has masked paths (Docker's), the kernel refuses
   * a fresh procfs in a user namespace and the sandbox has no /proc at all (`probeIsolation`).
   * @default true
   */
  procMount?: boolean;
  /**
   * The server's pid, a small number inside an appliance's container, names one of the Pyodide
   * guest's own threads in the guest's pid namespace (Node's threads take ids 1 to ~11 there): a
   * signal to it reaches the guest's own init, which ignores it, rather than failing with ESRCH.
   * @default false
   */
  serverPidIsGuestThread?: boolean;
}

/**
 * Disarm the runner's audit hook, as an attacker who read the runner would: find the hook through the
 * garbage collector and empty the tuple of refused events in its closure. The audit hook is a
 * convenience, never the wall; cases that start with this test the walls behind it.
 */
export const DISARM_AUDIT_HOOK = `import gc as _gc
_disarmed = 0
for _f in _gc.get_objects():
    if type(_f).__name__ == 'function' and _f.__name__ == 'hook' and _f.__closure__:
        for _c in _f.__closure__:
            if isinstance(_c.cell_contents, tuple) and any('socket' in str(x) for x in _c.cell_contents):
                _c.cell_contents = ()
                _disarmed += 1
assert _disarmed == 1, _disarmed
`;

/** Find Pyodide's hidden modules through the garbage collector (they are refused by import). */
/**
 * Reach the JavaScript realm of the guest from Pyodide, as an attacker would: the import hook keeps the
 * \`js\` and \`pyodide_js\` modules that the runner hides from import. \`require\` is Node's
 * \`process.getBuiltinModule\`; \`attempt\` prints how each try ends.
 */
const JS_REALM = `import gc
_hook = [o for o in gc.get_objects() if type(o).__name__ == 'module' and o.__name__ == '_pyodide._importhook'][0]
js = _hook.jsfinder.jsproxies['js']
pyodide_js = _hook.jsfinder.jsproxies['pyodide_js']
require = js.process.getBuiltinModule
def attempt(label, fn):
    try:
        print(label, 'ok', str(fn())[:80])
    except Exception as e:
        print(label, type(e).__name__, str(e).split('\\n')[0][:120])
`;

const FIND_MODULES = `import gc
mods = {o.__name__: o for o in gc.get_objects() if type(o).__name__ == 'module' and o.__name__.startswith(('pyodide', '_pyodide', 'js'))}
`;

/** The server's directory: never in any observation (the canary is checked in every response by the harness). */
const SECRETS = ['{{SERVER_DIR}}'] as const;

const ok = (stdout: string | RegExp, extra: Partial<Outcome> = {}): Outcome => ({ exit_code: 0, stdout, ...extra });
const raises = (stderr: RegExp, extra: Partial<Outcome> = {}): Outcome => ({ exit_code: 1, stderr, ...extra });
/** The sandbox died (or was killed); the server says so and the next step starts afresh. */
const killed = (extra: Partial<Outcome> = {}): Outcome => ({ exit_code: 137, state_lost: true, stderr: /^envbox: .*its state is lost/, ...extra });

/**
 * The Python half of the escape corpus, with the exact safe outcome of each case on `host.backend`.
 * Where the backends differ, the difference is the point: CPython meets the kernel's walls
 * (read-only binds, namespaces, rlimits); Pyodide meets its in-memory file system and the Node
 * process around it (permission model, no code from strings, the same namespaces).
 */
export function pythonCases(host: PythonCorpusHost): HostileCase[] {
  const pyodide = host.backend === 'pyodide';
  const process = host.backend === 'process';
  /** The process sandbox has its own /proc (see {@link PythonCorpusHost.procMount}); cases that read it say what they get without. */
  const proc = host.procMount !== false;
  const noNamespaces = host.namespaces
    ? false
    : `SKIPPED LOUDLY: no namespaces on this host (${host.isolationReason ?? 'unknown reason'}); this case tests the namespace wall, which is missing here. Install bubblewrap and allow unprivileged user namespaces.`;
  const enoent = pyodide ? 44 : 2;
  /** FileNotFoundError for `path`, with this backend's errno (Emscripten numbers them its own way). */
  const notFound = (path: string): RegExp => new RegExp(`FileNotFoundError: \\[Errno ${enoent}\\] No such file or directory: '${path}'\n$`);
  const cases: HostileCase[] = [];
  /** Add a case; one that names a single backend (`only`) is left out of the other's corpus. */
  const add = ({ only, ...hostile }: HostileCase & { only?: PythonBackendName }): void => {
    if (only === undefined || only === host.backend) cases.push(hostile);
  };

  // ---- Host files ----
  add({
    name: 'reads /etc/shadow',
    steps: [{ code: "open('/etc/shadow').read()", expect: raises(notFound('/etc/shadow')) }],
  });
  add({
    name: "reads the server's own source directory",
    steps: [
      {
        code: "import os\nopen('{{SERVER_DIR}}/package.json').read()",
        expect: raises(notFound('{{SERVER_DIR}}/package.json'.replace('{{SERVER_DIR}}', '.*'))),
      },
    ],
  });
  add({
    name: "reads /proc/<server pid>/environ",
    skip: noNamespaces,
    steps: [
      {
        code: "open('/proc/{{SERVER_PID}}/environ', 'rb').read()",
        expect: raises(notFound('/proc/\\d+/environ')),
      },
    ],
  });
  add({
    name: 'reads /proc/1/environ and /proc/1/cmdline',
    skip: noNamespaces,
    steps: [
      {
        code: "import os\nfor f in ('environ', 'cmdline'):\n    try:\n        print(f, open('/proc/1/' + f, 'rb').read())\n    except OSError as e:\n        print(f, type(e).__name__, e.errno)",
        expect: ok(pyodide ? 'environ FileNotFoundError 44\ncmdline FileNotFoundError 44\n' : !proc ? 'environ FileNotFoundError 2\ncmdline FileNotFoundError 2\n' : /^environ b'HOME=\/workspace\\x00PWD=\/workspace\\x00'\ncmdline b'\/usr\/bin\/python3\\x00-I\\x00-B\\x00\/envbox\/runner\.py\\x00\{"limits":.*\}\\x00'\n$/, { absent: SECRETS }),
      },
    ],
  });
  add({
    name: 'lists / : only the sandbox’s own tree',
    skip: process ? noNamespaces : false,
    steps: [
      {
        code: "import os\nprint(sorted(os.listdir('/')))",
        expect: ok(
          pyodide
            ? "['dev', 'envbox', 'home', 'lib', 'proc', 'tmp', 'workspace']\n"
            : `['bin', 'dev', 'envbox', 'lib', 'lib64', ${proc ? "'proc', " : ''}'tmp', 'usr', 'workspace']\n`,
        ),
      },
    ],
  });
  add({
    name: "reads /proc/self/mountinfo: no host path of the server's",
    skip: process ? noNamespaces : false,
    // Found by this corpus: a bind of the runner showed its host path (the server's install directory)
    // here; it is handed over as data now (bwrap --ro-bind-data).
    steps: [
      {
        code: "try:\n    print(open('/proc/self/mountinfo').read())\nexcept OSError as e:\n    print(type(e).__name__)",
        // Without a /proc of its own the sandbox has none to read: no mount table at all.
        expect: ok(pyodide || !proc ? 'FileNotFoundError\n' : / \/envbox\/runner\.py ro,/, { absent: SECRETS }),
      },
    ],
  });
  add({
    name: 'lists the processes it can see (the server, other sandboxes)',
    skip: process ? noNamespaces : false,
    steps: [
      {
        code: "import os\nprint(sorted(p for p in os.listdir('/proc') if p.isdigit()), os.getuid() != 0)",
        // Its own pid namespace: CPython alone, as pid 1, and not root. Pyodide's /proc is Emscripten's.
        // Without a /proc there is nothing to list (the os.kill cases show the pid namespace there).
        expect: pyodide ? ok('[] True\n') : proc ? ok("['1'] True\n") : raises(notFound('/proc')),
      },
    ],
  });
  add({
    name: 'lists /root and /home',
    steps: [
      {
        code: "import os\nfor d in ('/root', '/home'):\n    try:\n        print(d, sorted(os.listdir(d)))\n    except OSError as e:\n        print(d, type(e).__name__)",
        expect: ok(pyodide ? "/root FileNotFoundError\n/home ['web_user']\n" : '/root FileNotFoundError\n/home FileNotFoundError\n'),
      },
    ],
  });
  add({
    name: 'writes outside /tmp (/usr, /, the runner)',
    skip: process ? noNamespaces : false,
    steps: [
      {
        code: "for p in ('/usr/envbox-owned', '/envbox-owned', '/envbox/runner.py'):\n    try:\n        open(p, 'w').write('owned')\n        print(p, 'written')\n    except OSError as e:\n        print(p, type(e).__name__, e.errno)",
        // On Pyodide the writes land in its in-memory file system, inside the guest: the host's stay untouched.
        expect: ok(
          pyodide
            ? '/usr/envbox-owned FileNotFoundError 44\n/envbox-owned written\n/envbox/runner.py written\n'
            : '/usr/envbox-owned OSError 30\n/envbox-owned OSError 30\n/envbox/runner.py OSError 30\n',
        ),
      },
    ],
    next_episode: { code: "import os\nprint(os.path.exists('/usr/envbox-owned'), os.path.exists('/envbox-owned'))", expect: ok('False False\n') },
    // The server's host: this machine, or a remote appliance's container (where the same writes would land).
    check: async (t, target) => {
      t.notOk(await target.pathExists('/usr/envbox-owned'), "the server's host has no /usr/envbox-owned");
      t.notOk(await target.pathExists('/envbox-owned'), "the server's host has no /envbox-owned");
    },
  });
  add({
    name: 'symlinks /tmp to a host file and reads through it',
    steps: [
      {
        code: "import os\nos.symlink('/etc/passwd', '/tmp/p')\nopen('/tmp/p').read()",
        expect: raises(notFound('/tmp/p')),
      },
    ],
  });

  // ---- Environment ----
  add({
    name: "os.environ holds nothing of the server's environment",
    steps: [{ code: 'import os\nprint(sorted(os.environ.items()))', expect: ok(pyodide ? "[('HOME', '/workspace')]\n" : host.namespaces ? "[('HOME', '/workspace'), ('LC_CTYPE', 'C.UTF-8'), ('PWD', '/workspace')]\n" : /^\[\('HOME', '.*'\), \('TMPDIR', '.*'\)\]\n$/) }],
  });
  add({
    name: '/proc/self/environ holds nothing of the server’s environment',
    skip: process ? noNamespaces : false,
    steps: [
      {
        code: "try:\n    print(open('/proc/self/environ', 'rb').read())\nexcept OSError as e:\n    print(type(e).__name__)",
        expect: ok(pyodide || !proc ? 'FileNotFoundError\n' : "b'HOME=/workspace\\x00PWD=/workspace\\x00'\n"),
      },
    ],
  });

  // ---- Network ----
  add({
    name: "connects to the server's own port (audit hook)",
    steps: [
      {
        code: "import socket\nsocket.create_connection(('127.0.0.1', {{SERVER_PORT}}), timeout=1)",
        expect: raises(/PermissionError: envbox: socket\.getaddrinfo is not allowed in this sandbox\n$/),
      },
    ],
  });
  add({
    name: "connects to the server's own port with the audit hook disarmed",
    skip: noNamespaces,
    steps: [
      {
        code: `${DISARM_AUDIT_HOOK}import socket\nsocket.create_connection(('127.0.0.1', {{SERVER_PORT}}), timeout=1)`,
        expect: raises(pyodide ? /OSError: \[Errno 23\] Host is unreachable\n$/ : /ConnectionRefusedError: \[Errno 111\] Connection refused\n$/),
      },
    ],
  });
  for (const [address, label] of [
    ['10.0.0.1', 'a private address (10.0.0.1)'],
    ['192.168.0.1', 'a private address (192.168.0.1)'],
    ['169.254.169.254', 'the cloud metadata service (169.254.169.254)'],
  ] as const) {
    add({
      name: `connects to ${label} with the audit hook disarmed`,
      skip: noNamespaces,
      steps: [
        {
          code: `${DISARM_AUDIT_HOOK}import socket\nsocket.create_connection(('${address}', 80), timeout=1)`,
          expect: raises(pyodide ? /OSError: \[Errno 23\] Host is unreachable\n$/ : /OSError: \[Errno 101\] Network is unreachable\n$/),
        },
      ],
    });
  }
  add({
    name: 'fetches http://169.254.169.254/ with urllib',
    steps: [
      {
        code: "import urllib.request\nurllib.request.urlopen('http://169.254.169.254/latest/meta-data/', timeout=1)",
        expect: raises(/URLError: <urlopen error envbox: socket\.getaddrinfo is not allowed in this sandbox>\n$/),
      },
    ],
  });
  add({
    name: 'resolves a DNS name',
    steps: [{ code: "import socket\nsocket.getaddrinfo('example.com', 80)", expect: raises(/PermissionError: envbox: socket\.getaddrinfo is not allowed in this sandbox\n$/) }],
  });
  add({
    name: 'resolves a DNS name with the audit hook disarmed',
    skip: noNamespaces,
    steps: [
      {
        code: `${DISARM_AUDIT_HOOK}import socket\nprint(sorted({a[4][0] for a in socket.getaddrinfo('example.com', 80)}))`,
        // Emscripten answers every name with a made-up address of its own, without asking anyone.
        expect: pyodide ? ok(/^\['172\.29\.\d+\.\d+'\]\n$/) : raises(/socket\.gaierror: \[Errno -3\] Temporary failure in name resolution\n$/),
      },
    ],
  });
  add({
    name: 'sends UDP to 8.8.8.8 with the audit hook disarmed',
    skip: noNamespaces,
    steps: [
      {
        code: `${DISARM_AUDIT_HOOK}import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.sendto(b'x', ('8.8.8.8', 53))`,
        expect: raises(pyodide ? /OSError: \[Errno 23\] Host is unreachable\n$/ : /OSError: \[Errno 101\] Network is unreachable\n$/),
      },
    ],
  });
  add({
    name: 'opens a raw socket with the audit hook disarmed',
    skip: noNamespaces,
    steps: [
      {
        code: `${DISARM_AUDIT_HOOK}import socket\nsocket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)`,
        expect: raises(pyodide ? /OSError: \[Errno 28\] Invalid argument\n$/ : /PermissionError: \[Errno 1\] Operation not permitted\n$/),
      },
    ],
  });
  add({
    name: 'connects to a host Unix socket (docker.sock)',
    steps: [
      {
        code: "import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect('/var/run/docker.sock')",
        expect: raises(pyodide ? /AttributeError: module 'socket' has no attribute 'AF_UNIX'\n$/ : /PermissionError: envbox: socket\.connect is not allowed in this sandbox\n$/),
      },
    ],
  });

  // ---- Starting programs ----
  add({ name: 'subprocess.run', steps: [{ code: "import subprocess\nsubprocess.run(['id'])", expect: raises(/PermissionError: envbox: subprocess\.Popen is not allowed in this sandbox\n$/) }] });
  add({ name: 'os.system', steps: [{ code: "import os\nos.system('id')", expect: raises(/PermissionError: envbox: os\.system is not allowed in this sandbox\n$/) }] });
  add({ name: 'os.fork', steps: [{ code: 'import os\nos.fork()', expect: raises(/PermissionError: envbox: os\.fork is not allowed in this sandbox\n$/) }] });
  add({
    name: 'os.posix_spawn',
    steps: [{ code: "import os\nos.posix_spawn('/usr/bin/id', ['id'], {})", expect: raises(pyodide ? /AttributeError: module 'os' has no attribute 'posix_spawn'\n$/ : /PermissionError: envbox: os\.posix_spawn is not allowed in this sandbox\n$/) }],
  });
  add({ name: 'pty.spawn', steps: [{ code: "import pty\npty.spawn('/bin/sh')", expect: raises(/PermissionError: envbox: pty\.spawn is not allowed in this sandbox\n$/) }] });
  add({
    name: '_posixsubprocess.fork_exec (no audit event): the program runs inside the namespaces, as nobody',
    only: 'process',
    skip: noNamespaces,
    steps: [
      {
        code: `import _posixsubprocess, os
r, w = os.pipe()
er, ew = os.pipe()
argv = ['/bin/sh', '-c', 'echo uid=$(id -u); ls /; tr "\\\\0" " " < /proc/1/cmdline']
pid = _posixsubprocess.fork_exec(argv, [b'/bin/sh'], True, (ew,), None, None, -1, -1, r, w, -1, w, er, ew, True, False, -1, None, None, None, -1, None, False)
os.close(w)
os.close(ew)
out = b''
while chunk := os.read(r, 4096):
    out += chunk
os.waitpid(pid, 0)
print(out.decode())`,
        // Without a /proc, the sandbox's own root (ls /) shows where it runs; there is no /proc/1 to read.
        expect: ok(
          proc
            ? /^uid=(?!0\n)\d+\nbin\ndev\nenvbox\nlib\nlib64\nproc\ntmp\nusr\nworkspace\n\/usr\/bin\/python3 -I -B \/envbox\/runner\.py /
            : /^uid=(?!0\n)\d+\nbin\ndev\nenvbox\nlib\nlib64\ntmp\nusr\nworkspace\n\/bin\/sh: 1: cannot open \/proc\/1\/cmdline: No such file\n/,
          { absent: SECRETS },
        ),
      },
    ],
  });

  // ---- ctypes ----
  add({
    name: 'ctypes: libc system()',
    steps: [{ code: "import ctypes\nctypes.CDLL(None).system(b'id')", expect: raises(/PermissionError: envbox: ctypes\.dlopen is not allowed in this sandbox\n$/) }],
  });
  add({
    name: 'ctypes with the audit hook disarmed: libc system() runs inside the sandbox only',
    skip: process ? noNamespaces : false,
    steps: [
      {
        code: `${DISARM_AUDIT_HOOK}import ctypes, os\nr = ctypes.CDLL(None).system(b'(cat /etc/shadow; ls /root; kill -9 {{SERVER_PID}}) > /tmp/out 2>&1')\nprint(r)\nprint(open('/tmp/out').read())`,
        // On Pyodide there is no libc system() to call: the guest fails and only its sandbox goes.
        expect: pyodide ? killed() : ok(/^256\ncat: \/etc\/shadow: No such file or directory\nls: cannot access '\/root': No such file or directory\nsh: 1: kill: No such process\n\n\n$/),
      },
    ],
  });
  add({
    name: 'ctypes with the audit hook disarmed: a wild write to address 0 crashes only its own sandbox',
    steps: [
      { code: 'kept = 1', expect: ok('') },
      // In WebAssembly, address 0 is ordinary memory of the guest's own heap: nothing faults.
      { code: `${DISARM_AUDIT_HOOK}import ctypes\nctypes.memset(0, 0, 64)\nprint('wrote')`, expect: pyodide ? ok('wrote\n') : killed() },
      { code: "print('kept' in globals())", expect: ok(pyodide ? 'True\n' : 'False\n') },
    ],
  });
  add({
    name: 'ctypes with the audit hook disarmed: mprotect the interpreter’s code writable',
    only: 'process',
    skip: noNamespaces,
    steps: [
      {
        code: `${DISARM_AUDIT_HOOK}import ctypes
libc = ctypes.CDLL(None)
addr = ctypes.cast(libc.system, ctypes.c_void_p).value & ~0xfff
print(libc.mprotect(ctypes.c_void_p(addr), 4096, 7), ctypes.get_errno())
print(open('/proc/self/maps').read().count('{{SERVER_DIR}}'))`,
        // The page may become writable: it is the sandbox's own copy of libc, in its own process.
        // Without a /proc there are no maps to search; stdout's exact pattern leaves no room for a leak
        // (its traceback quotes this code, which names the server's directory itself).
        expect: proc ? ok(/^(0|-1) \d+\n0\n$/, { absent: SECRETS }) : raises(notFound('/proc/self/maps'), { stdout: /^(0|-1) \d+\n$/ }),
      },
    ],
  });
  add({
    name: 'ctypes to emscripten_run_script_string with the audit hook disarmed',
    only: 'pyodide',
    steps: [
      {
        code: `${DISARM_AUDIT_HOOK}import ctypes\nctypes.CDLL(None).emscripten_run_script_string(b'process.pid')`,
        // The call reaches JavaScript's eval, which --disallow-code-generation-from-strings refuses; the
        // uncaught EvalError takes the guest down with it.
        expect: killed(),
      },
    ],
  });

  // ---- __subclasses__ walks ----
  add({
    name: '__subclasses__ walk to os._wrap_close, then system()',
    steps: [
      {
        code: "w = [c for c in ().__class__.__base__.__subclasses__() if c.__name__ == '_wrap_close'][0]\nw.__init__.__globals__['system']('id')",
        expect: raises(/PermissionError: envbox: os\.system is not allowed in this sandbox\n$/),
      },
    ],
  });
  add({
    name: '__subclasses__ walk to BuiltinImporter, then posix.fork()',
    steps: [
      {
        code: "b = [c for c in ().__class__.__base__.__subclasses__() if c.__name__ == 'BuiltinImporter'][0]\nposix = b.load_module('posix')\nposix.fork()",
        expect: raises(/PermissionError: envbox: os\.fork is not allowed in this sandbox\n$/),
      },
    ],
  });
  add({
    name: '__subclasses__ walk to _io.FileIO, then /etc/shadow',
    steps: [
      {
        code: "def walk(c):\n    for s in type.__subclasses__(c):\n        yield s\n        yield from walk(s)\nio = [c for c in walk(object) if c.__name__ == 'FileIO'][0]\nio('/etc/shadow').read()",
        expect: raises(notFound('/etc/shadow')),
      },
    ],
  });

  // ---- Frames ----
  add({
    name: "sys._getframe(1).f_globals: the runner's globals hold no secret",
    steps: [
      {
        code: "import sys\ng = sys._getframe(1).f_globals\nprint('_Channel' in g, any('{{SERVER_DIR}}' in repr(v) or '" + CANARY_VALUE + "' in repr(v) for v in g.values()))",
        expect: ok('True False\n'),
      },
    ],
  });
  add({
    name: 'a traceback’s tb_frame.f_back chain to the channel, then a garbage frame on it: only this sandbox is lost',
    steps: [
      { code: 'kept = 1', expect: ok('') },
      {
        code: `import os, sys
try:
    1 / 0
except ZeroDivisionError as e:
    f = e.__traceback__.tb_frame
while f and 'channel' not in f.f_locals:
    f = f.f_back
os.write(f.f_locals['channel'].write_fd, b'\\xff\\xff\\xff\\xffgarbage')`,
        // On Pyodide the channel lives in JavaScript: no Python frame holds it.
        expect: pyodide
          ? raises(/AttributeError: 'NoneType' object has no attribute 'f_locals'\n$/)
          : killed({ stderr: /^envbox: the sandbox broke its channel \(sandbox sent a frame of 4294967295 bytes, over 67108864\)/ }),
      },
      { code: "print('kept' in globals())", expect: ok(pyodide ? 'True\n' : 'False\n') },
    ],
  });
  add({
    name: 'a generator’s gi_frame.f_back chain to the channel, then a forged reply: the next episode is clean',
    steps: [
      {
        code: `import sys
def g():
    yield sys._getframe().f_back
gen = g()
f = next(gen)
while f and 'channel' not in f.f_locals:
    f = f.f_back
f.f_locals['channel'].send({'stdout': 'forged\\n', 'stderr': '', 'exit_code': 0, 'result': None, 'truncated': False, 'interrupted': False})
print('real')`,
        // The forged frame answers this step: no more than the code could say by printing it.
        expect: pyodide ? raises(/AttributeError: 'NoneType' object has no attribute 'f_locals'\n$/) : ok('forged\n'),
      },
    ],
    next_episode: { code: "print('clean')", expect: ok('clean\n') },
  });

  // ---- Builtins and module tampering, across the episode boundary ----
  add({
    name: 'builtins.len and __builtins__.print replaced',
    steps: [
      // The runner's own code (CPython) or json (Pyodide) calls the replaced len: the frame breaks and only
      // this sandbox is lost; the step after it runs in a fresh one.
      {
        code: "import builtins\nbuiltins.len = lambda x: 42\n__builtins__.print = lambda *a, **k: None\nbuiltins.print('gone')",
        expect: pyodide ? ok('') : killed({ stderr: /^envbox: the sandbox broke its channel \(Unexpected end of JSON input\)/ }),
      },
      { code: 'print(len([1]))', expect: pyodide ? killed() : ok('1\n') },
    ],
    next_episode: { code: 'print(len([1]))', expect: ok('1\n') },
  });
  add({
    name: 'sys.modules poisoned (json, os)',
    steps: [
      { code: "import sys, types\nfake = types.ModuleType('json')\nfake.dumps = lambda *a, **k: 'poisoned'\nsys.modules['json'] = fake\nsys.modules['os'] = fake", expect: ok('') },
      { code: "import json\nprint(json.dumps([1]))", expect: ok('poisoned\n') },
    ],
    next_episode: { code: 'import json, os\nprint(json.dumps([1]), os.sep)', expect: ok('[1] /\n') },
  });
  add({
    name: 'json.dumps and json.loads monkeypatched (the runner’s own channel codec)',
    steps: [
      { code: "import json\njson.dumps = lambda *a, **k: '{}'\njson.loads = lambda *a, **k: {}\nprint('patched')", expect: ok('patched\n') },
      { code: "print('the channel still works')", expect: ok('the channel still works\n') },
    ],
    next_episode: { code: 'import json\nprint(json.dumps({"a": 1}))', expect: ok('{"a": 1}\n') },
  });
  add({
    name: 'sys.stdout and sys.stderr replaced',
    steps: [
      { code: "import sys, io\nsys.stdout = io.StringIO()\nsys.stderr = io.StringIO()\nsys.__stdout__ = None", expect: ok('') },
      { code: "print('visible')", expect: ok('visible\n') },
    ],
    next_episode: { code: "import sys\nprint('visible', sys.__stdout__ is not None)", expect: ok('visible True\n') },
  });
  add({
    name: 'every sys.modules entry deleted',
    steps: [
      { code: 'import sys\nfor k in list(sys.modules):\n    del sys.modules[k]', expect: ok('') },
      { code: "print('still answering')", expect: ok('still answering\n') },
    ],
    next_episode: { code: "import sys, json\nprint(len(sys.modules) > 10, json.dumps(1))", expect: ok('True 1\n') },
  });
  add({
    name: 'shadow modules planted in /workspace and /tmp',
    steps: [
      {
        code: "for d in ('/workspace', '/tmp'):\n    open(d + '/json.py', 'w').write('raise SystemExit(9)')\n    open(d + '/sitecustomize.py', 'w').write('raise SystemExit(9)')\nimport sys\nsys.path.insert(0, '/tmp')\nimport importlib\nimportlib.invalidate_caches()\nprint('planted')",
        expect: ok('planted\n'),
      },
    ],
    next_episode: { code: "import os, json\nprint(os.listdir('/workspace'), os.listdir('/tmp'), json.dumps(1))", expect: ok(pyodide ? "[] [] 1\n" : '[] [] 1\n') },
  });
  add({
    name: 'sys.settrace and sys.setprofile hooks left behind',
    steps: [
      { code: "import sys\nsys.setprofile(lambda *a: None)\nsys.settrace(lambda *a: None)\nimport atexit\natexit.register(print, 'at exit')", expect: ok('') },
      { code: "print('traced')", expect: ok('traced\n') },
    ],
    next_episode: { code: "import sys\nprint(sys.gettrace(), sys.getprofile())", expect: ok('None None\n') },
  });

  // ---- Pyodide's JavaScript realm ----
  add({ name: 'import js', steps: [{ code: 'import js\njs.process.env', expect: raises(/ModuleNotFoundError: No module named 'js'\n$/) }] });
  add({
    name: 'import pyodide_js, pyodide.code',
    steps: [{ code: 'from pyodide.code import run_js', expect: raises(/ModuleNotFoundError: No module named 'pyodide(\.code)?'/) }],
  });
  /**
   * The permission model's refusal of `label`'s call, as a pattern: Node 22 (an appliance's) adds
   * which flag would allow it (`. Use --allow-fs-read to manage permissions.`; `. ` for the
   * inspector, which has none); Node 20 does not.
   */
  const restricted = (label: string, flag: string | undefined): string =>
    `${label} JsException Error: Access to this API has been restricted${flag === undefined ? '(?:\\. )?' : `(?:\\. Use --allow-${flag} to manage permissions\\.)?`}\n`;
  add({
    name: "JS realm: globalThis from the import hook's jsfinder; the guest's process.env is empty",
    only: 'pyodide',
    steps: [
      {
        code: `${JS_REALM}print(js.process.pid, js.Object.keys(js.process.env).to_py(), js.Object.keys(pyodide_js).length > 10)`,
        expect: ok('1 [] True\n'),
      },
    ],
  });
  add({
    name: 'JS realm: host files through node:fs (read /etc/shadow, the server dir, /proc/<pid>/environ; write /tmp)',
    only: 'pyodide',
    steps: [
      {
        code: `${JS_REALM}fs = require('fs')
attempt('shadow', lambda: fs.readFileSync('/etc/shadow', 'utf8'))
attempt('server', lambda: fs.readFileSync('{{SERVER_DIR}}/package.json', 'utf8'))
attempt('environ', lambda: fs.readFileSync('/proc/{{SERVER_PID}}/environ', 'utf8'))
attempt('write', lambda: fs.writeFileSync('/tmp/envbox-owned', 'x'))
attempt('readdir', lambda: fs.readdirSync('/'))`,
        expect: ok(
          new RegExp(`^${[['shadow', 'fs-read'], ['server', 'fs-read'], ['environ', 'fs-read'], ['write', 'fs-write'], ['readdir', 'fs-read']].map(([label, flag]) => restricted(label!, flag)).join('')}$`),
          { absent: SECRETS },
        ),
      },
    ],
    check: async (t, target) => {
      t.notOk(await target.pathExists('/tmp/envbox-owned'), "the server's host has no /tmp/envbox-owned");
    },
  });
  add({
    name: 'JS realm: programs and native code (require, child_process, process.dlopen, process.binding, WASI, inspector)',
    only: 'pyodide',
    steps: [
      {
        code: `${JS_REALM}attempt('require', lambda: js.require('child_process'))
attempt('child_process', lambda: require('child_process').execSync('id'))
attempt('dlopen', lambda: js.process.dlopen(js.Object.new(), '/usr/lib/x86_64-linux-gnu/libc.so.6'))
attempt('binding', lambda: js.process.binding('spawn_sync'))
attempt('wasi', lambda: require('wasi').WASI.new(js.Object.fromEntries(js.Array.of(js.Array.of('version', 'preview1')))))
attempt('inspector', lambda: require('inspector').open(9229))`,
        expect: ok(
          new RegExp(
            // The guest is an ES module in a worker: there is no CommonJS require to find.
            '^require AttributeError require\\n' +
              restricted('child_process', 'child-process') +
              'dlopen JsException Error: Cannot load native addon because loading addons is disabled\\.\\n' +
              'binding JsException Error: process\\.binding\\("spawn_sync"\\) is not available in the envbox guest\\n' +
              restricted('wasi', 'wasi') +
              restricted('inspector', undefined) +
              '$',
          ),
        ),
      },
    ],
  });
  add({
    name: 'JS realm: code from strings (eval, Function, FS.constructor.constructor)',
    only: 'pyodide',
    steps: [
      {
        code: `${JS_REALM}attempt('eval', lambda: js.eval('process'))
attempt('Function', lambda: js.Function('return process'))
attempt('FS', lambda: pyodide_js.FS.constructor.constructor('return process')())`,
        expect: ok(['eval', 'Function', 'FS'].map((label) => `${label} JsException EvalError: Code generation from strings disallowed for this context\n`).join('')),
      },
    ],
  });
  add({
    name: 'JS realm: mountNodeFS of /etc and of the server dir',
    only: 'pyodide',
    steps: [
      {
        code: `${JS_REALM}attempt('etc', lambda: pyodide_js.mountNodeFS('/mnt', '/etc'))
attempt('server', lambda: pyodide_js.mountNodeFS('/mnt2', '{{SERVER_DIR}}'))`,
        expect: ok(/^etc JsException Error: hostPath '\/etc' does not exist\nserver JsException Error: hostPath '.*' does not exist\n$/),
      },
    ],
  });
  add({
    name: 'JS realm: the network (fetch and net.connect to the server port, pyfetch); the server sees no request',
    only: 'pyodide',
    steps: [
      {
        code: `${JS_REALM}attempt('fetch', lambda: js.fetch('http://127.0.0.1:{{SERVER_PORT}}${PROBE_PATH}'))
attempt('net', lambda: type(require('net').connect({{SERVER_PORT}}, '127.0.0.1')).__name__)
attempt('pyfetch', lambda: __import__('pyodide.http'))`,
        // fetch and connect are asynchronous, and the guest's event loop never turns while it serves
        // steps (it blocks reading its channel); the network namespace refuses them anyway.
        expect: ok("fetch RuntimeError There is no current event loop in thread 'MainThread'.\nnet ok JsProxy\npyfetch ModuleNotFoundError No module named 'pyodide.http'\n"),
      },
    ],
    check: async (t, target) => {
      t.equal(await target.probeRequests(), 0, `the server saw no request for ${PROBE_PATH}`);
    },
  });
  add({
    name: 'JS realm: signals (process.kill of the server and of pid 1), then process.exit',
    only: 'pyodide',
    steps: [
      {
        code: `${JS_REALM}attempt('server', lambda: js.process.kill({{SERVER_PID}}, 9))\nattempt('self', lambda: js.process.kill(1, 9))`,
        // The guest is pid 1 of its own pid namespace: the server's pid does not exist there (or, in an
        // appliance, names one of the guest's own threads: see serverPidIsGuestThread), and SIGKILL
        // from inside to the namespace's init is ignored.
        expect: ok(`${host.serverPidIsGuestThread === true ? 'server ok True' : 'server JsException Error: kill ESRCH'}\nself ok True\n`),
      },
      { code: `${JS_REALM}js.process.exit(3)`, expect: killed() },
      { code: "print('fresh')", expect: ok('fresh\n') },
    ],
  });
  add({
    name: "JS realm: a JS proxy's constructor.constructor (found through pyodide.ffi)",
    only: 'pyodide',
    steps: [
      {
        code: `${FIND_MODULES}mods['pyodide.ffi'].to_js({}).constructor.constructor('return process')()`,
        expect: raises(/EvalError: Code generation from strings disallowed for this context/),
      },
    ],
  });
  add({
    name: 'JS realm: run_js found through gc',
    only: 'pyodide',
    steps: [{ code: `${FIND_MODULES}mods['pyodide.code'].run_js('process.env')`, expect: raises(/ModuleNotFoundError: No module named 'js'\n$/) }],
  });

  // ---- Resource bombs ----
  add({
    name: 'fork bomb with the audit hook disarmed: RLIMIT_NPROC caps it, the server stays up',
    skip: process ? noNamespaces : false,
    steps: [
      {
        // Every child forks too, forever; the parent is interrupted at the deadline, the children spin
        // on inside the sandbox's pid namespace (capped by RLIMIT_NPROC) until the session closes.
        // On Pyodide os.fork fails every time.
        code: `${DISARM_AUDIT_HOOK}import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass`,
        timeout_s: 2,
        // With the children hogging the CPUs, the parent may not get to its interrupt within the grace
        // period: then the whole sandbox is killed. Either way, nothing outside it is touched.
        expect: {
          exit_code: [124, 137],
          stderr: /TimeoutError: the step ran past its limit of 2 s and was interrupted; the state is kept\.\n$|^envbox: the step ran past its limit of 2 s and ignored the interrupt for \d+ ms; its state is lost/,
        },
      },
      { code: "print('the session still answers')", expect: ok('the session still answers\n') },
    ],
  });
  add({
    name: 'memory bomb: bytearray(10**10)',
    steps: [
      { code: 'kept = 1\nbytearray(10**10)', expect: raises(pyodide ? /OverflowError: cannot fit 'int' into an index-sized integer\n$/ : /MemoryError\n$/) },
      { code: 'print(kept)', expect: ok('1\n') },
    ],
  });
  add({
    name: 'memory bomb: a list that grows until it cannot',
    steps: [
      { code: 'kept = 1\nx = []\nwhile True:\n    x.append(bytearray(2**20))', expect: raises(/MemoryError\n$/) },
      { code: 'del x\nprint(kept)', expect: ok('1\n') },
    ],
  });
  add({
    name: "memory bomb: '\\x00' * 2**40",
    steps: [
      { code: "kept = 1\n'\\x00' * 2**40", expect: raises(pyodide ? /OverflowError: cannot fit 'int' into an index-sized integer\n$/ : /MemoryError\n$/) },
      { code: 'print(kept)', expect: ok('1\n') },
    ],
  });
  add({
    name: 'fills /tmp until it cannot (ENOSPC; on Pyodide the heap cap), and the next episode has a clean /tmp',
    steps: [
      {
        code: "import os\nchunk = b'x' * 2**20\ni = 0\ntry:\n    while i < 4096:\n        with open('/tmp/fill%d' % i, 'wb') as f:\n            for _ in range(8):\n                f.write(chunk)\n        i += 1\nexcept OSError as e:\n    print(type(e).__name__, e.errno)",
        timeout_s: 20,
        // Pyodide's /tmp lives in the WebAssembly heap: it fills up to the heap cap, and the guest, failing to
        // grow its file, is lost with its sandbox.
        expect: pyodide ? killed() : ok('OSError 28\n'),
      },
    ],
    next_episode: { code: "import os\nprint(os.listdir('/tmp'))", expect: ok('[]\n') },
  });
  add({
    // Found by this corpus: / and /dev were tmpfs mounts without a size (host memory, no rlimit counts
    // tmpfs pages), /dev/shm was in /dev, and /workspace was a bind of a host directory (the host's disk).
    name: 'fills every other writable place (/, /dev, /dev/shm, /workspace): read-only or capped like /tmp',
    // Pyodide's file system is its WebAssembly heap, capped as memory (see 'fills /tmp').
    only: 'process',
    skip: noNamespaces,
    steps: [
      {
        code: `import os
chunk = b'x' * 2**20
for d in ('/', '/dev', '/dev/shm', '/workspace'):
    written = 0
    try:
        for i in range(4):
            with open(os.path.join(d, 'fill%d' % i), 'wb') as f:
                for _ in range(40):
                    f.write(chunk)
                    written += 1
        print(d, 'wrote', written, 'MiB')
    except OSError as e:
        print(d, e.errno, 'after', written <= 64 and 'at most 64 MiB' or '%d MiB' % written)`,
        timeout_s: 20,
        expect: ok('/ 30 after at most 64 MiB\n/dev 30 after at most 64 MiB\n/dev/shm 28 after at most 64 MiB\n/workspace 28 after at most 64 MiB\n'),
      },
    ],
  });
  add({
    name: 'a single file past RLIMIT_FSIZE in /workspace: EFBIG',
    only: 'process',
    steps: [
      {
        code: "f = open('/workspace/big', 'wb')\ntry:\n    for _ in range(80):\n        f.write(b'x' * 2**20)\n        f.flush()\nexcept OSError as e:\n    print(type(e).__name__, e.errno)",
        expect: ok('OSError 27\n'),
      },
    ],
  });
  add({
    name: '100 MB of output: capped, the observation stays bounded',
    steps: [
      {
        code: "import sys\nchunk = 'x' * 2**20\nfor _ in range(100):\n    sys.stdout.write(chunk)",
        timeout_s: 30,
        expect: ok(/^x{1048576}\n\[envbox: output truncated at 1048576 bytes\]\n$/, { max_output_chars: 1_048_576 + 100 }),
      },
    ],
  });
  add({
    name: 'non-UTF-8 output: raw bytes on sys.stdout.buffer and on fd 1',
    steps: [
      {
        code: "import sys, os\nsys.stdout.buffer.write(b'\\xff\\xfe')\nsys.stdout.flush()\nos.write(1, b'\\xff\\xfe raw fd 1\\n')\nprint('\\udcff')",
        // Two raw bytes and a lone surrogate (three bytes): each becomes U+FFFD; fd 1 is not the step's stdout.
        expect: ok('\ufffd'.repeat(5) + '\n'),
      },
    ],
  });

  // ---- Signals, fds, exits ----
  add({
    name: 'os.kill(os.getppid(), 9)',
    steps: [
      {
        code: "import os\nppid = os.getppid()\ntry:\n    os.kill(ppid, 9)\n    print(ppid, 'signalled')\nexcept OSError as e:\n    print(ppid, type(e).__name__, e.errno)",
        // CPython is pid 1 of its namespace: its parent is outside (0), kill(0) reaches only its own group,
        // and SIGKILL from inside to the namespace's init is ignored.
        expect: ok(pyodide ? /^\d+ PermissionError 63\n$/ : '0 signalled\n'),
      },
    ],
  });
  add({
    name: 'os.kill(-1, 9)',
    steps: [{ code: 'import os\nos.kill(-1, 9)', expect: raises(pyodide ? /PermissionError: \[Errno 63\] Operation not permitted\n$/ : /ProcessLookupError: \[Errno 3\] No such process\n$/) }],
  });
  add({
    name: 'os.kill(1, 9) and os.kill(<server pid>, 9)',
    steps: [
      {
        code: "import os\nfor pid in (1, {{SERVER_PID}}):\n    try:\n        os.kill(pid, 9)\n        print(pid > 1 and 'server' or 'init', 'signalled')\n    except OSError as e:\n        print(pid > 1 and 'server' or 'init', type(e).__name__)",
        expect: ok(pyodide ? 'init PermissionError\nserver PermissionError\n' : 'init signalled\nserver ProcessLookupError\n'),
      },
    ],
  });
  add({
    name: 'signal.alarm(1), then sleep',
    steps: [
      {
        code: "import signal, time\nsignal.alarm(1)\ntime.sleep(3)\nprint('never')",
        timeout_s: 2,
        // SIGALRM has no handler, and the namespace's init ignores such signals: the deadline ends the step.
        expect: pyodide
          ? raises(/AttributeError: module 'signal' has no attribute 'alarm'\n$/)
          : { exit_code: 124, stdout: '', stderr: /TimeoutError: the step ran past its limit of 2 s and was interrupted; the state is kept\.\n$/ },
      },
    ],
  });
  add({
    name: 'closes fds 0-2, then prints',
    steps: [
      { code: "import os\nfor fd in (0, 1, 2):\n    os.close(fd)\nprint('still printing')", expect: ok('still printing\n') },
      { code: "print('next step')", expect: ok('next step\n') },
    ],
  });
  add({
    name: 'os.closerange(0, 1024): the channel goes, and only this sandbox with it',
    steps: [
      // On Pyodide the fds are Emscripten's: the channel is in JavaScript, out of reach.
      { code: "import os\nos.closerange(0, 1024)\nprint('closed')", expect: pyodide ? ok('closed\n') : killed({ stderr: /^envbox: the sandbox process exited with code 120;/ }) },
      { code: "print('fresh')", expect: ok('fresh\n') },
    ],
  });
  add({ name: 'os._exit(3)', steps: [{ code: 'import os\nos._exit(3)', expect: killed({ stderr: pyodide ? /^envbox: the sandbox process exited with code 70;/ : /^envbox: the sandbox process exited with code 3;/ }) }] });
  add({
    name: 'infinite recursion',
    steps: [
      { code: 'kept = 1\ndef f():\n    return f()\nf()', expect: raises(/RecursionError: maximum recursion depth exceeded\n$/) },
      { code: 'print(kept)', expect: ok('1\n') },
    ],
  });
  add({
    name: 'sys.setrecursionlimit(10**9), then deep recursion',
    steps: [{ code: 'import sys\nsys.setrecursionlimit(10**9)\ndef f(n):\n    return f(n + 1)\nf(0)', timeout_s: 2, expect: killed() }],
  });
  add({
    name: "catastrophic regex: re.match('(a+)+$', 'a'*40+'b')",
    steps: [
      { code: 'kept = 1', expect: ok('') },
      { code: "import re\nre.match('(a+)+$', 'a' * 40 + 'b')", timeout_s: 1, expect: { exit_code: 124, stderr: /TimeoutError: the step ran past its limit of 1 s and was interrupted; the state is kept\.\n$/ } },
      { code: 'print(kept)', expect: ok('1\n') },
    ],
  });
  add({
    name: 'sleeps forever: time.sleep(10**6)',
    steps: [
      { code: 'kept = 1\nimport time\ntime.sleep(10**6)', timeout_s: 1, expect: { exit_code: 124, stderr: /TimeoutError: the step ran past its limit of 1 s and was interrupted; the state is kept\.\n$/ } },
      { code: 'print(kept)', expect: ok('1\n') },
    ],
  });
  add({
    name: 'waits forever: threading.Event().wait()',
    steps: [{ code: 'import threading\nthreading.Event().wait()', timeout_s: 1, expect: { exit_code: 124, stderr: /TimeoutError: the step ran past its limit of 1 s/ } }],
  });
  add({
    name: 'waits forever: select on nothing',
    // Pyodide's select() on nothing returns at once.
    steps: [{ code: 'import select\nselect.select([], [], [])', timeout_s: 1, expect: pyodide ? ok('') : { exit_code: 124, stderr: /TimeoutError: the step ran past its limit of 1 s/ } }],
  });
  add({
    name: 'a thread that outlives its step and keeps printing',
    steps: [
      {
        code: "import threading, time\ndef chatter():\n    while True:\n        print('tick')\n        time.sleep(0.001)\nthreading.Thread(target=chatter, daemon=True).start()\nprint('started')",
        expect: pyodide ? raises(/RuntimeError: can't start new thread\n$/) : ok(/^(tick\n)*started\n(tick\n)*$/),
      },
      { code: "print('mine')", expect: ok(/^(tick\n)*mine\n(tick\n)*$/) },
    ],
    next_episode: { code: "import threading\nprint(threading.active_count(), 'quiet')", expect: ok('1 quiet\n') },
  });
  add({
    name: 'atexit handlers that write into the workspace',
    steps: [{ code: "import atexit\natexit.register(lambda: open('/workspace/atexit', 'w').write('ran'))\nprint('registered')", expect: ok('registered\n') }],
    next_episode: { code: "import os\nprint(os.path.exists('/workspace/atexit'))", expect: ok('False\n') },
  });

  return cases;
}

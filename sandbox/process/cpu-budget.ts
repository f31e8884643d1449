import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Clock ticks per second in `/proc/<pid>/stat` (USER_HZ: 100 on every Linux architecture Node runs on). */
const USER_HZ = 100;

/** How a guest that cannot set its own RLIMIT_CPU gets its episode CPU budget (see {@link startCpuBudget}). */
export interface CpuBudget {
  /** CPU seconds the episode may spend once the guest is ready. */
  budgetS: number;
  /** RLIMIT_CPU the guest was started with (start-up allowance plus budget): never raised. */
  startLimitS: number;
}

/**
 * CPU seconds process `pid` used so far: every thread, live or gone, and the programs it was before
 * its `exec()`s (what RLIMIT_CPU counts), to the clock tick.
 * @throws when the process is gone
 */
export async function cpuSecondsUsed(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields are counted after the command name, which may hold spaces and parentheses: utime and
  // stime are fields 14 and 15 (proc(5)), the 12th and 13th after the name.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
}

/**
 * Start the episode's CPU budget of a guest that is ready: lower its RLIMIT_CPU (soft and hard, so
 * that the kernel kills it, 137, when the budget is spent) to the CPU it used while starting plus
 * `budgetS`, from the host (prlimit(2), by util-linux's `prlimit --pid`): a guest that cannot call
 * setrlimit itself (Node hosting Pyodide) is started with a start-up allowance on top of its budget,
 * so that start-up on a slow machine does not spend the budget. The limit is never raised. Call it
 * before the guest is given any code.
 * @param uid the guest's own uid, when it has one (the server runs as root): `prlimit` runs as that
 *   uid (setpriv), since prlimit(2) on another uid's process needs CAP_SYS_RESOURCE, which a root
 *   in a container or VM may lack; a process of one's own uid needs no privilege
 * @returns the RLIMIT_CPU set, in CPU seconds since the process started
 * @throws when the process is gone or the limit could not be set
 */
export async function startCpuBudget(pid: number, budget: CpuBudget, uid: number | undefined): Promise<number> {
  const usedS = await cpuSecondsUsed(pid);
  // One tick more than measured: /proc rounds down, and the guest must get its whole budget.
  const limitS = Math.min(budget.startLimitS, Math.ceil(usedS + 1 / USER_HZ) + budget.budgetS);
  try {
    const prlimit = ['prlimit', '--pid', String(pid), `--cpu=${limitS}:${limitS}`];
    const asGuest = uid === undefined ? [] : ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--no-new-privs', '--'];
    const [program, ...args] = [...asGuest, ...prlimit];
    await run(program!, args, { env: {} });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new Error(`could not lower its RLIMIT_CPU to ${limitS} s (prlimit --pid ${pid}: ${stderr || (error as Error).message})`, { cause: error });
  }
  return limitS;
}

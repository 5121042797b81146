// The desktop's process tree as the kernel sees it (/proc), to prove a checkpointed desktop's processes are gone.
import { readFileSync, readdirSync } from 'node:fs';

/** A process by pid and start time: a pid reused by a newer process is not the same process. */
export interface ProcessIdentity {
  pid: number;
  startTime: string;
}

function startTime(pid: number): string | undefined {
  try {
    // Field 22 of /proc/PID/stat; the command (field 2) may hold spaces, so count from the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** The root and all its descendants, from /proc/PID/task/TID/children. */
export function processTree(root: number): ProcessIdentity[] {
  const found: ProcessIdentity[] = [];
  const visit = (pid: number) => {
    const start = startTime(pid);
    if (!start) return;
    found.push({ pid, startTime: start });
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${pid}/task`);
    } catch {
      return;
    }
    for (const tid of tasks) {
      let children = '';
      try {
        children = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8');
      } catch {
        continue;
      }
      for (const child of children.split(' ').filter(Boolean)) visit(Number(child));
    }
  };
  visit(root);
  return found;
}

export function isAlive({ pid, startTime: start }: ProcessIdentity): boolean {
  return startTime(pid) === start;
}

// Filesystem and process readings behind the RDS and MSK analogues (Linux /proc, statfs).
import { readdir, readFile, statfs } from 'node:fs/promises';

export interface FsUsage {
  /** Bytes an unprivileged writer can still use (what `df` shows as Avail). */
  readonly availableBytes: number;
  /** Used share as `df` computes Use%: used / (used + available). */
  readonly usedPercent: number;
}

export async function filesystemUsage(path: string): Promise<FsUsage> {
  const s = await statfs(path);
  const used = (s.blocks - s.bfree) * s.bsize;
  const available = s.bavail * s.bsize;
  return {
    availableBytes: available,
    usedPercent: used + available === 0 ? 0 : (100 * used) / (used + available),
  };
}

export interface ProcStat {
  readonly pid: number;
  readonly comm: string;
  readonly ppid: number;
  /** utime + stime of the process itself, in clock ticks. */
  readonly ticks: number;
  /** cutime + cstime: ticks of children it has reaped. */
  readonly reapedChildTicks: number;
}

/** Parses /proc/<pid>/stat (proc(5)); the command name may contain spaces and parentheses. */
export function parseProcStat(text: string): ProcStat {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) throw new Error(`unexpected /proc stat line: ${text.slice(0, 80)}`);
  const rest = text
    .slice(close + 2)
    .trim()
    .split(/\s+/)
    .map(Number);
  // Fields after "(comm)": state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14).
  const field = (i: number): number => {
    const v = rest[i];
    if (v === undefined || Number.isNaN(v)) throw new Error(`/proc stat field ${i} missing`);
    return v;
  };
  return {
    pid: Number(text.slice(0, open).trim()),
    comm: text.slice(open + 1, close),
    ppid: field(1),
    ticks: field(11) + field(12),
    reapedChildTicks: field(13) + field(14),
  };
}

export async function readProcStat(pid: number, proc = '/proc'): Promise<ProcStat> {
  return parseProcStat(await readFile(`${proc}/${pid}/stat`, 'utf8'));
}

/** Total CPU ticks of the machine (all CPUs) from the first line of /proc/stat. */
export function parseCpuTotal(text: string): number {
  const line = text.split('\n', 1)[0] ?? '';
  const parts = line.trim().split(/\s+/);
  if (parts[0] !== 'cpu') throw new Error('unexpected /proc/stat first line');
  // user nice system idle iowait irq softirq steal; guest time is already inside user/nice.
  return parts
    .slice(1, 9)
    .map(Number)
    .reduce((a, b) => a + b, 0);
}

/**
 * Ticks used by a process tree rooted at `rootPid`: the root itself, the children it reaped
 * (so a backend that exits between two samples still counts) and its live children.
 */
export async function processTreeTicks(rootPid: number, proc = '/proc'): Promise<number> {
  const root = await readProcStat(rootPid, proc);
  let total = root.ticks + root.reapedChildTicks;
  const entries = await readdir(proc);
  const stats = await Promise.all(
    entries
      .filter((e) => /^\d+$/.test(e))
      .map((e) => readProcStat(Number(e), proc).catch(() => undefined)),
  );
  for (const s of stats) if (s !== undefined && s.ppid === rootPid) total += s.ticks;
  return total;
}

export async function cpuTotalTicks(proc = '/proc'): Promise<number> {
  return parseCpuTotal(await readFile(`${proc}/stat`, 'utf8'));
}

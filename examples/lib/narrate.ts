// An example's narration: the strace-style lines of everything its processes do, and "# " comments
// between them, both kept (the example returns them) and passed to the caller's sink as they happen.
import type { Host } from 'vfio-kvm-shim';

export interface Narration {
  readonly lines: string[];
  /** A comment line ("# ..."). */
  say(s: string): void;
  /** Detaches the tracer. */
  stop(): void;
}

export function narrate(host: Host, sink: (line: string) => void, opts?: Parameters<Host['strace']>[1]): Narration {
  const lines: string[] = [];
  const stop = host.strace((l) => {
    lines.push(l);
    sink(l);
  }, opts);
  return {
    lines,
    say(s: string): void {
      lines.push(`# ${s}`);
      sink(`# ${s}`);
    },
    stop,
  };
}

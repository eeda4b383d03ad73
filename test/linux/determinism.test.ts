// design.md contract 3: given the same calls, a run is bit-for-bit repeatable. Identifiers the kernel
// hands out (eventfd ids, pipe and tmpfs inode numbers, VFIO container and IOMMU domain ids) are per
// machine, as each Host is one machine: a second host in the same Node process traces exactly what the
// first one did. Before, they came from module-level counters, so a host's trace depended on what other
// hosts had done before it in the process.
import { describe, expect, it } from 'vitest';
import { Host } from '../../src/index.js';
import { EventFdFile } from '../../src/linux/eventfd.js';
import { O_CREAT, O_RDWR, O_TMPFILE } from '../../include-ts/linux/fcntl.js';
import { EFD_NONBLOCK } from '../../include-ts/linux/eventfd.js';
import { bindToVfioPci, openVfioDevice } from '../../examples/lib/vfio.js';
import { VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU } from '../../include-ts/linux/vfio.js';

function session(): string[] {
  const host = Host.create();
  const lines: string[] = [];
  host.strace((l) => lines.push(l), { irqs: true });
  const p = host.spawn();
  const e = p.eventfd(0, EFD_NONBLOCK);
  p.write(e, new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]));
  // The id the interrupt traces name it by (eventfd#N).
  lines.push(`eventfd#${(p.fileOrNull(e) as EventFdFile).ctx.id}`);
  const [r] = p.pipe(0);
  const created = p.open('/dev/created', O_RDWR | O_CREAT, 0o600);
  const tmp = p.open('/dev', O_RDWR | O_TMPFILE, 0o600);
  const group = bindToVfioPci(p, '0000:00:03.0');
  const { container } = openVfioDevice(p, group, '0000:00:03.0');
  // What /proc/<pid>/fd shows (pipe:[ino], the unlinked tmpfile's #ino), and an error naming the container.
  for (const fd of [r, created, tmp, container]) lines.push(p.readlink(`/proc/${p.pid}/fd/${fd}`));
  try {
    p.ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU);
  } catch (e) {
    lines.push(String((e as Error).message));
  }
  return lines;
}

describe('determinism across hosts in one process', () => {
  it('a second host given the same calls produces the same trace', () => {
    const first = session();
    const second = session();
    expect(second).toEqual(first);
    expect(first.some((l) => /eventfd#\d+/.test(l))).toBe(true);
    expect(first.some((l) => /^pipe:\[\d+\]$/.test(l))).toBe(true);
    expect(first.some((l) => /container #\d+/.test(l))).toBe(true);
  });
});

// KVM_CREATE_DEVICE and the kvm-vfio device (src/linux/kvm/device.ts: virt/kvm/kvm_main.c
// kvm_ioctl_create_device, kvm_device_ioctl, kvm_device_release; src/linux/kvm/vfio-device.ts:
// virt/kvm/vfio.c; src/linux/vfio/file-kvm.ts: drivers/vfio/vfio_main.c vfio_file_is_valid,
// vfio_file_set_kvm, vfio_file_enforced_coherent).
// kvm-vfio-oracle.c runs a sequence on this machine's /dev/kvm that needs no VFIO file (this host has no
// vfio module: its kvm_vfio_file_is_valid() finds no vfio_file_is_valid symbol and answers false, the same
// EINVAL a loaded vfio gives for a non-VFIO file); the same sequence runs on the model and every line must
// be equal, and this machine's strace 6.1 output of it is what the model's tracer must print. The cases
// with VFIO group and device files are unit tests below, each citing the kernel rule it checks.
import { describe, expect, it } from 'vitest';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Host } from '../../../src/index.js';
import type { Process } from '../../../src/linux/process.js';
import { F_GETFD, F_GETFL, O_RDWR } from '../../../include-ts/linux/fcntl.js';
import { RLIMIT_NOFILE } from '../../../include-ts/linux/resource.js';
import { MAP_ANONYMOUS, MAP_SHARED, PROT_READ, PROT_WRITE } from '../../../include-ts/linux/mman.js';
import { K } from './helpers.js';
import { oracleSkip, resultCode, runCOracle, STRACE, straceCOracleIoctls } from '../../support/c-oracle.js';
import { bindVfio, EDU, GROUP, NIC, V } from '../../support/vfio.js';
import type { KvmVmFile } from '../../../src/linux/kvm/kvm-main.js';
import type { KvmDeviceFile } from '../../../src/linux/kvm/device.js';
import type { KvmVfio } from '../../../src/linux/kvm/vfio-device.js';
import type { VfioGroupFile } from '../../../src/linux/vfio/group.js';
import type { VfioDeviceFile } from '../../../src/linux/vfio/vfio-main.js';

const here = dirname(fileURLToPath(import.meta.url));
const ORACLE = join(here, 'kvm-vfio-oracle.c');
const PAGE = 4096;
const SKIP = oracleSkip('KVM_CREATE_DEVICE / kvm-vfio', ['kvm']);
const { KVM_DEV_VFIO_FILE: FILE, KVM_DEV_VFIO_FILE_ADD: ADD, KVM_DEV_VFIO_FILE_DEL: DEL } = K;

/** A process with scratch memory for the ioctl structs (so the tracer prints addresses, as strace does). */
function scratchOf(p: Process) {
  const m = p.mmap(null, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  const dv = new DataView(m.bytes!.buffer, m.bytes!.byteOffset);
  /** struct kvm_create_device at +0 (fd field 77777, as the C program sets it). */
  const cd = (type: number, flags: number): number => {
    dv.setUint32(0, type, true);
    dv.setUint32(4, 77777, true);
    dv.setUint32(8, flags, true);
    return m.addr;
  };
  const cdFd = () => dv.getUint32(4, true);
  /** An int32 at +64, for attr.addr. */
  const int = (v: number): number => {
    dv.setInt32(64, v, true);
    return m.addr + 64;
  };
  /** A u64 at +72. */
  const u64 = (v: bigint): number => {
    dv.setBigUint64(72, v, true);
    return m.addr + 72;
  };
  /** struct kvm_device_attr at +16. */
  const attr = (group: number, a: bigint | number, addr: number): number => {
    dv.setUint32(16, 0, true);
    dv.setUint32(20, group, true);
    dv.setBigUint64(24, BigInt(a), true);
    dv.setBigUint64(32, BigInt(addr), true);
    return m.addr + 16;
  };
  return { cd, cdFd, int, u64, attr };
}

/** The oracle's sequence on the model; returns its lines and the model's strace of it. */
function modelRun(): { lines: string[]; strace: string[] } {
  const host = Host.create();
  const strace: string[] = [];
  host.strace((l) => strace.push(l));
  const p = host.spawn();
  const s = scratchOf(p);
  const lines: string[] = [];
  const res = (w: string, f: () => number) => lines.push(`${w}: ${resultCode(f)}`);
  let vm = -1;
  const create = (type: number, flags: number) => p.ioctl(vm, K.KVM_CREATE_DEVICE, s.cd(type, flags));
  const createLine = (w: string, type: number, flags: number) => {
    const r = resultCode(() => create(type, flags));
    lines.push(`${w}: ${r.startsWith('E') ? r : `${r} fd=${s.cdFd() === 77777 ? 'unchanged' : 'new'}`}`);
  };
  const attr = (w: string, dev: number, req: number, group: number, a: bigint | number, addr: number) =>
    res(w, () => p.ioctl(dev, req, s.attr(group, a, addr)));
  const fdAttr = (w: string, dev: number, a: bigint | number, fd: number) => attr(w, dev, K.KVM_SET_DEVICE_ATTR, FILE, a, s.int(fd));

  const kvm = p.open('/dev/kvm', O_RDWR);
  res('kvm cap DEVICE_CTRL', () => p.ioctl(kvm, K.KVM_CHECK_EXTENSION, K.KVM_CAP_DEVICE_CTRL));
  vm = p.ioctl(kvm, K.KVM_CREATE_VM, 0);
  lines.push(`create VM: ${vm >= 0 ? 'fd' : 'failed'}`);
  res('vm cap DEVICE_CTRL', () => p.ioctl(vm, K.KVM_CHECK_EXTENSION, K.KVM_CAP_DEVICE_CTRL));
  const T = K.KVM_CREATE_DEVICE_TEST;
  createLine('test VFIO', K.KVM_DEV_TYPE_VFIO, T);
  createLine('test 0', 0, T);
  createLine('test FSL_MPIC_20', K.KVM_DEV_TYPE_FSL_MPIC_20, T);
  createLine('test XICS', K.KVM_DEV_TYPE_XICS, T);
  createLine('test ARM_VGIC_V2', K.KVM_DEV_TYPE_ARM_VGIC_V2, T);
  createLine('test ARM_PV_TIME', K.KVM_DEV_TYPE_ARM_PV_TIME, T);
  createLine('test 11', 11, T);
  createLine('test 12', 12, T);
  createLine('test 0xffffffff', 0xffffffff, T);
  createLine('create 0', 0, 0);
  createLine('create XICS', K.KVM_DEV_TYPE_XICS, 0);
  createLine('create 12', 12, 0);
  res('create NULL', () => p.ioctl(vm, K.KVM_CREATE_DEVICE, 0));
  const r = resultCode(() => create(K.KVM_DEV_TYPE_VFIO, 0xfffffffe));
  lines.push(`create VFIO flags 0xfffffffe: ${r === '0' ? 'fd' : 'failed'}`);
  const dev = s.cdFd();
  lines.push(`device fd name: ${p.readlink(`/proc/self/fd/${dev}`)}`);
  res('device F_GETFL & ~O_LARGEFILE', () => p.fcntl(dev, F_GETFL) & ~0o100000);
  res('device F_GETFD', () => p.fcntl(dev, F_GETFD));
  createLine('second VFIO', K.KVM_DEV_TYPE_VFIO, 0);
  createLine('second VFIO test', K.KVM_DEV_TYPE_VFIO, T);
  const HAS = K.KVM_HAS_DEVICE_ATTR;
  attr('has FILE ADD', dev, HAS, FILE, ADD, 0);
  attr('has FILE DEL', dev, HAS, FILE, DEL, 0);
  attr('has SET_SPAPR_TCE', dev, HAS, FILE, K.KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE, 0);
  attr('has FILE attr 0', dev, HAS, FILE, 0, 0);
  attr('has FILE attr 1<<32|1', dev, HAS, FILE, (1n << 32n) | 1n, 0);
  attr('has group 0', dev, HAS, 0, ADD, 0);
  attr('has group 2', dev, HAS, 2, ADD, 0);
  res('has NULL', () => p.ioctl(dev, HAS, 0));
  attr('get FILE ADD', dev, K.KVM_GET_DEVICE_ATTR, FILE, ADD, 0);
  res('get NULL', () => p.ioctl(dev, K.KVM_GET_DEVICE_ATTR, 0));
  res('set NULL', () => p.ioctl(dev, K.KVM_SET_DEVICE_ATTR, 0));
  attr('set ADD addr NULL', dev, K.KVM_SET_DEVICE_ATTR, FILE, ADD, 0);
  attr('set DEL addr NULL', dev, K.KVM_SET_DEVICE_ATTR, FILE, DEL, 0);
  fdAttr('set ADD fd -1', dev, ADD, -1);
  fdAttr('set ADD fd 999', dev, ADD, 999);
  fdAttr('set ADD /dev/kvm', dev, ADD, kvm);
  fdAttr('set ADD VM fd', dev, ADD, vm);
  fdAttr('set ADD the device itself', dev, ADD, dev);
  const efd = p.eventfd(0, 0);
  fdAttr('set ADD eventfd', dev, ADD, efd);
  fdAttr('set DEL fd -1', dev, DEL, -1);
  fdAttr('set DEL eventfd', dev, DEL, efd);
  fdAttr('set DEL /dev/kvm', dev, DEL, kvm);
  fdAttr('set SET_SPAPR_TCE', dev, K.KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE, efd);
  fdAttr('set FILE attr 0', dev, 0, efd);
  fdAttr('set FILE attr 1<<32|1', dev, (1n << 32n) | 1n, efd);
  attr('set group 0', dev, K.KVM_SET_DEVICE_ATTR, 0, ADD, s.int(efd));
  attr('set group 2', dev, K.KVM_SET_DEVICE_ATTR, 2, ADD, s.int(efd));
  attr('set ADD eventfd, high word set', dev, K.KVM_SET_DEVICE_ATTR, FILE, ADD, s.u64((0xffffffffn << 32n) | BigInt(efd)));
  res('device KVM_CHECK_EXTENSION', () => p.ioctl(dev, K.KVM_CHECK_EXTENSION, K.KVM_CAP_DEVICE_CTRL));
  res('device KVM_CREATE_VCPU', () => p.ioctl(dev, K.KVM_CREATE_VCPU, 0));
  res('device KVM_CREATE_DEVICE', () => p.ioctl(dev, K.KVM_CREATE_DEVICE, 0));
  res('device read', () => p.read(dev, new Uint8Array(8)));
  res('device write', () => p.write(dev, new Uint8Array(8)));
  res('device mmap', () => (p.mmap(null, PAGE, PROT_READ, MAP_SHARED, dev, 0), 0));
  p.close(vm);
  attr('after VM close: has FILE ADD', dev, HAS, FILE, ADD, 0);
  fdAttr('after VM close: set DEL eventfd', dev, DEL, efd);
  p.close(dev);
  vm = p.ioctl(kvm, K.KVM_CREATE_VM, 0);
  lines.push(`new VM, create VFIO: ${resultCode(() => create(K.KVM_DEV_TYPE_VFIO, 0)) === '0' ? 'fd' : 'failed'}`);
  p.close(s.cdFd());
  lines.push(`after closing it, create VFIO: ${resultCode(() => create(K.KVM_DEV_TYPE_VFIO, 0)) === '0' ? 'fd' : 'failed'}`);
  p.close(s.cdFd());
  const top = p.dup(kvm);
  p.close(top);
  const lim = new Uint8Array(16);
  p.getrlimit(RLIMIT_NOFILE, lim);
  const cur = new DataView(lim.buffer).getBigUint64(0, true);
  new DataView(lim.buffer).setBigUint64(0, BigInt(top), true);
  p.setrlimit(RLIMIT_NOFILE, lim);
  createLine('no fd left, create VFIO', K.KVM_DEV_TYPE_VFIO, 0);
  createLine('no fd left, test VFIO', K.KVM_DEV_TYPE_VFIO, T);
  createLine('no fd left, create 12', 12, 0);
  new DataView(lim.buffer).setBigUint64(0, cur, true);
  p.setrlimit(RLIMIT_NOFILE, lim);
  lines.push(`fd freed, create VFIO: ${resultCode(() => create(K.KVM_DEV_TYPE_VFIO, 0)) === '0' ? 'fd' : 'failed'}`);
  return { lines, strace: strace.filter((l) => l.startsWith('ioctl(')) };
}

/** Addresses differ in every run; strace pads the result to column 40, the model's tracer does not. */
const straceComparable = (lines: readonly string[]) => lines.map((l) => l.replace(/0x[0-9a-f]{9,}/g, 'ADDR').replace(/\) +=/, ') ='));

describe('KVM_CREATE_DEVICE and kvm-vfio against this machine\'s /dev/kvm', () => {
  it.skipIf(SKIP !== undefined)('the same sequence gives the same line for every step', () => {
    expect(modelRun().lines).toEqual(runCOracle(ORACLE));
  });

  if (!SKIP && !STRACE) console.warn('KVM_CREATE_DEVICE / kvm-vfio: strace is not installed: the strace comparison is skipped');
  it.skipIf(SKIP !== undefined || !STRACE)('the model\'s tracer prints every ioctl as this machine\'s strace 6.1 does (pointers, not structs)', () => {
    expect(straceComparable(modelRun().strace)).toEqual(straceComparable(straceCOracleIoctls(ORACLE)));
  });
});

/** A VM with a kvm-vfio device, EDU bound to vfio-pci, and helpers for the attribute calls. */
function setup() {
  const host = Host.create();
  const p = host.spawn();
  const s = scratchOf(p);
  const kvm = p.open('/dev/kvm', O_RDWR);
  const vm = p.ioctl(kvm, K.KVM_CREATE_VM, 0);
  p.ioctl(vm, K.KVM_CREATE_DEVICE, s.cd(K.KVM_DEV_TYPE_VFIO, 0));
  const dev = s.cdFd();
  bindVfio(p, EDU);
  const set = (a: number, fd: number) => p.ioctl(dev, K.KVM_SET_DEVICE_ATTR, s.attr(FILE, a, s.int(fd)));
  const add = (fd: number) => set(ADD, fd);
  const del = (fd: number) => set(DEL, fd);
  const file = <T>(fd: number) => p.fileOrNull(fd) as T;
  const theKvm = file<KvmVmFile>(vm).kvm;
  const kv = () => file<KvmDeviceFile>(dev).dev.private_ as KvmVfio;
  return { host, p, s, kvm, vm, dev, add, del, set, file, theKvm, kv };
}

/** The QEMU legacy sequence: container, group, type1v2, device fd. */
function openGroupDevice(p: Process, gid: number = GROUP.edu, bdf = EDU) {
  const c = p.open('/dev/vfio/vfio', O_RDWR);
  const g = p.open(`/dev/vfio/${gid}`, O_RDWR);
  p.ioctl(g, V.VFIO_GROUP_SET_CONTAINER, new Int32Array([c]));
  p.ioctl(c, V.VFIO_SET_IOMMU, V.VFIO_TYPE1v2_IOMMU);
  const open = () => p.ioctl(g, V.VFIO_GROUP_GET_DEVICE_FD, bdf);
  return { c, g, open };
}

describe('kvm-vfio with VFIO files (virt/kvm/vfio.c, drivers/vfio/vfio_main.c)', () => {
  it('FILE_ADD of a group fd: the group learns the VM (vfio_file_set_kvm -> vfio_group_set_kvm); a device opened afterwards holds it (vfio_df_group_open: vfio_device_group_get_kvm_safe) until its last close', () => {
    const t = setup();
    const { g, open } = openGroupDevice(t.p);
    expect(t.add(g)).toBe(0);
    const group = t.file<VfioGroupFile>(g).group;
    expect(group.kvm).toBe(t.theKvm);
    const d = open();
    const vdev = t.file<VfioDeviceFile>(d).device;
    expect(vdev.kvm).toBe(t.theKvm);
    // The device's reference keeps the VM after its VM fd and the kvm-vfio fd are closed.
    t.p.close(t.vm);
    t.p.close(t.dev);
    expect(group.kvm).toBeNull(); // kvm_vfio_release: set_kvm(NULL)
    expect(t.host.kernel.kvm!.vms.has(t.theKvm)).toBe(true);
    t.p.close(d);
    expect(vdev.kvm).toBeNull(); // vfio_device_put_kvm at the last close
    expect(t.host.kernel.kvm!.vms.has(t.theKvm)).toBe(false);
  });

  it('host.control.kvm shows the VM\'s devices, the files kvm-vfio lists and the non-coherent DMA count', () => {
    const t = setup();
    const { g, open } = openGroupDevice(t.p);
    const d = open();
    t.add(g);
    t.add(d);
    const c = t.host.control.kvm.vm(t.p, t.vm);
    expect(c.devices()).toEqual(['kvm-vfio']);
    expect(c.kvmVfioFiles()).toEqual([`/dev/vfio/${GROUP.edu}`, 'anon_inode:[vfio-device]']);
    expect(c.noncoherentDmaCount).toBe(0);
    t.p.close(t.dev);
    expect(c.devices()).toEqual([]);
    expect(c.kvmVfioFiles()).toEqual([]);
  });

  it('a device opened before FILE_ADD keeps no VM: only the first open takes group->kvm', () => {
    const t = setup();
    const { g, open } = openGroupDevice(t.p);
    const d = open();
    t.add(g);
    expect(t.file<VfioDeviceFile>(d).device.kvm).toBeNull();
  });

  it('FILE_ADD of the same open file twice is EEXIST, also through a dup (kvm_vfio_file_add compares struct file); FILE_DEL then ENOENT', () => {
    const t = setup();
    const { g } = openGroupDevice(t.p);
    t.add(g);
    expect(resultCode(() => t.add(g))).toBe('E17');
    const g2 = t.p.dup(g);
    expect(resultCode(() => t.add(g2))).toBe('E17');
    expect(t.kv().files.length).toBe(1);
    expect(t.del(g2)).toBe(0);
    expect(t.file<VfioGroupFile>(g).group.kvm).toBeNull();
    expect(resultCode(() => t.del(g))).toBe('E2');
    expect(t.kv().files.length).toBe(0);
  });

  it('a VFIO device fd from GET_DEVICE_FD is a valid file too (vfio_device_fops): df->kvm is set, the group keeps none', () => {
    const t = setup();
    const { g, open } = openGroupDevice(t.p);
    const d = open();
    expect(t.add(d)).toBe(0);
    expect(t.file<VfioDeviceFile>(d).kvm).toBe(t.theKvm);
    expect(t.file<VfioGroupFile>(g).group.kvm).toBeNull();
    expect(t.del(d)).toBe(0);
    expect(t.file<VfioDeviceFile>(d).kvm).toBeNull();
  });

  it('a container fd is not a VFIO file (vfio_file_is_valid): EINVAL, nothing listed', () => {
    const t = setup();
    const { c } = openGroupDevice(t.p);
    expect(resultCode(() => t.add(c))).toBe('E22');
    expect(t.kv().files.length).toBe(0);
  });

  it('a device cdev fd: FILE_ADD records df->kvm; VFIO_DEVICE_BIND_IOMMUFD passes it to the device (vfio_df_get_kvm_safe) and the unbind at close drops it', () => {
    const t = setup();
    const cdev = t.p.open('/dev/vfio/devices/vfio0', O_RDWR);
    expect(t.add(cdev)).toBe(0);
    const f = t.file<VfioDeviceFile>(cdev);
    expect(f.kvm).toBe(t.theKvm);
    const iommufd = t.p.open('/dev/iommu', O_RDWR);
    t.p.ioctl(cdev, V.VFIO_DEVICE_BIND_IOMMUFD, V.vfio_device_bind_iommufd.encode({ argsz: 16, iommufd }));
    expect(f.device.kvm).toBe(t.theKvm);
    t.p.close(t.vm);
    t.p.close(t.dev); // kvm_vfio_release drops the file's reference and clears df->kvm
    expect(f.kvm).toBeNull();
    expect(t.host.kernel.kvm!.vms.has(t.theKvm)).toBe(true);
    t.p.close(cdev);
    expect(t.host.kernel.kvm!.vms.has(t.theKvm)).toBe(false);
  });

  it('the device holds a reference on each added file: the group stays open (and keeps its container) after userspace closed its fd (FILE_DEL can no longer name it), until the kvm-vfio fd closes (kvm_vfio_release: fput)', () => {
    const t = setup();
    const { g } = openGroupDevice(t.p);
    t.add(g);
    const gf = t.file<VfioGroupFile>(g);
    t.p.close(g);
    expect(gf.released).toBe(false);
    expect(gf.group.openedFile).toBe(gf);
    expect(gf.group.container).not.toBeNull();
    t.p.close(t.dev);
    expect(gf.released).toBe(true);
    expect(gf.group.openedFile).toBeNull();
  });

  it('noncoherent DMA: the model\'s VT-d has Snoop Control (ECAP.SC), so files are coherent and kvm->arch.noncoherent_dma_count stays 0 (kvm_vfio_update_coherency)', () => {
    const t = setup();
    bindVfio(t.p, NIC);
    const a = openGroupDevice(t.p);
    const b = openGroupDevice(t.p, GROUP.nic, NIC);
    t.add(a.g);
    t.add(b.g);
    expect(t.kv().noncoherent).toBe(false);
    expect(t.theKvm.noncoherentDmaCount).toBe(0);
  });

  it('noncoherent DMA: a file whose device has no snoop control registers the VM once for the whole device and unregisters when the last such file goes (kvm_arch_[un]register_noncoherent_dma)', () => {
    const t = setup();
    const { g, open } = openGroupDevice(t.p);
    const d = open();
    const unit = t.host.kernel.irq.platform.vtd.unitFor(t.file<VfioGroupFile>(g).group.devices[0]!.pdev.hw)!;
    // The unit without ECAP.SC (bit 7): intel_iommu_capable(IOMMU_CAP_ENFORCE_CACHE_COHERENCY) is false.
    (unit as { ecap: bigint }).ecap = unit.ecap & ~(1n << 7n);
    t.add(g);
    t.add(d);
    expect(t.theKvm.noncoherentDmaCount).toBe(1);
    t.del(g);
    expect(t.theKvm.noncoherentDmaCount).toBe(1);
    t.del(d);
    expect(t.theKvm.noncoherentDmaCount).toBe(0);
    t.add(g);
    expect(t.theKvm.noncoherentDmaCount).toBe(1);
    t.p.close(t.dev); // kvm_vfio_release recomputes after dropping every file
    expect(t.theKvm.noncoherentDmaCount).toBe(0);
  });

  it('the GROUP names are the FILE names (include/uapi/linux/kvm.h): GROUP_ADD / GROUP_DEL on a group fd', () => {
    const t = setup();
    const { g } = openGroupDevice(t.p);
    expect(K.KVM_DEV_VFIO_GROUP).toBe(FILE);
    expect(t.p.ioctl(t.dev, K.KVM_SET_DEVICE_ATTR, t.s.attr(K.KVM_DEV_VFIO_GROUP, K.KVM_DEV_VFIO_GROUP_ADD, t.s.int(g)))).toBe(0);
    expect(t.p.ioctl(t.dev, K.KVM_SET_DEVICE_ATTR, t.s.attr(K.KVM_DEV_VFIO_GROUP, K.KVM_DEV_VFIO_GROUP_DEL, t.s.int(g)))).toBe(0);
  });

  it('a second kvm-vfio device is EBUSY before the fd table is looked at (ops->create runs before anon_inode_getfd); another VM may have its own', () => {
    const t = setup();
    const lim = new Uint8Array(16);
    t.p.getrlimit(RLIMIT_NOFILE, lim);
    const top = t.p.dup(t.kvm);
    t.p.close(top);
    new DataView(lim.buffer).setBigUint64(0, BigInt(top), true);
    t.p.setrlimit(RLIMIT_NOFILE, lim);
    expect(resultCode(() => t.p.ioctl(t.vm, K.KVM_CREATE_DEVICE, t.s.cd(K.KVM_DEV_TYPE_VFIO, 0)))).toBe('E16');
    new DataView(lim.buffer).setBigUint64(0, 1024n, true);
    t.p.setrlimit(RLIMIT_NOFILE, lim);
    const vm2 = t.p.ioctl(t.kvm, K.KVM_CREATE_VM, 0);
    expect(t.p.ioctl(vm2, K.KVM_CREATE_DEVICE, t.s.cd(K.KVM_DEV_TYPE_VFIO, 0))).toBe(0);
    expect(t.p.readlink(`/proc/self/fd/${t.s.cdFd()}`)).toBe('anon_inode:kvm-vfio');
  });

  it('the device fd from another process is EIO (kvm_device_ioctl: dev->kvm->mm != current->mm)', () => {
    const t = setup();
    const other = t.host.spawn();
    const fd = other.fds.install(t.p.fileOrNull(t.dev)!, false);
    const a = K.kvm_device_attr.encode({ group: FILE, attr: BigInt(ADD) });
    expect(resultCode(() => other.ioctl(fd, K.KVM_HAS_DEVICE_ATTR, a))).toBe('E5');
    expect(t.p.ioctl(t.dev, K.KVM_HAS_DEVICE_ATTR, a)).toBe(0);
  });

  it('a failed FILE_ADD changes nothing: EBADF and EINVAL leave the list, the file\'s VM and its references as they were', () => {
    const t = setup();
    const { g, c } = openGroupDevice(t.p);
    const cf = t.p.fileOrNull(c)!;
    const refs = cf.refs;
    expect(resultCode(() => t.add(c))).toBe('E22');
    expect(resultCode(() => t.add(12345))).toBe('E9');
    expect(cf.refs).toBe(refs);
    expect(t.kv().files.length).toBe(0);
    expect(t.file<VfioGroupFile>(g).group.kvm).toBeNull();
  });
});

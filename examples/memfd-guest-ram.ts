// Guest RAM in a sealed memfd, as QEMU's `-object memory-backend-memfd,id=ram,size=...,seal=on` makes it
// (util/memfd.c qemu_memfd_create, backends/hostmem-memfd.c) so that a second process — a vhost-user
// backend, or virtiofsd — can map the same pages and trust their size:
// - QEMU: memfd_create(MFD_CLOEXEC|MFD_ALLOW_SEALING), ftruncate to the RAM size, F_ADD_SEALS
//   F_SEAL_GROW|F_SEAL_SHRINK|F_SEAL_SEAL, one MAP_SHARED mapping that becomes KVM memory slot 0 and is
//   mapped for the assigned device's DMA (VFIO_IOMMU_MAP_DMA);
// - the guest stores a string into its RAM; the edu device copies it elsewhere by DMA;
// - the backend gets the memfd (over the vhost-user socket with SCM_RIGHTS in QEMU; here it reopens
//   /proc/<qemu>/fd/<n> read-only, which reaches the same inode), checks the seals and the size with
//   F_GET_SEALS and fstat, maps it read-only and shared, and sees both writes; its fd cannot resize the
//   file, and nor can QEMU's any more.
// Run: npx tsx --conditions=source examples/memfd-guest-ram.ts
import { fileURLToPath } from 'node:url';
import { Host, SyscallError } from 'vfio-kvm-shim';
import { GuestAsm, r1 } from '../src/guest/program.js';
import { F_ADD_SEALS, F_GET_SEALS, F_SEAL_GROW, F_SEAL_SEAL, F_SEAL_SHRINK, O_RDONLY, O_RDWR } from 'vfio-kvm-shim/include-ts/linux/fcntl';
import { MFD_ALLOW_SEALING, MFD_CLOEXEC } from 'vfio-kvm-shim/include-ts/linux/memfd';
import { MAP_SHARED, PROT_READ, PROT_WRITE } from 'vfio-kvm-shim/include-ts/linux/mman';
import * as K from 'vfio-kvm-shim/include-ts/linux/kvm';
import * as V from 'vfio-kvm-shim/include-ts/linux/vfio';
import { bindToVfioPci, openVfioDevice } from './lib/vfio.js';
import { narrate } from './lib/narrate.js';
import { EDU_BDF, EDU_DMA_BUF, eduDma } from './lib/edu.js';

const RAM = 2 << 20;
const GUEST_TEXT = 'stored by the guest!'; // 20 bytes: five 32-bit stores

export interface MemfdGuestRamResult {
  readonly lines: string[];
  /** What the backend read through its own mapping at the guest's address and at the DMA's target. */
  readonly backendSawGuest: string;
  readonly backendSawDevice: string;
  /** F_GET_SEALS as the backend saw it. */
  readonly seals: number;
  /** errno names of the resize attempts: the backend's read-only fd, then QEMU's sealed one. */
  readonly backendTruncate: string;
  readonly qemuGrow: string;
}

const errName = (f: () => unknown): string => {
  try {
    f();
    return 'ok';
  } catch (e) {
    if (e instanceof SyscallError) return e.code;
    throw e;
  }
};

export function memfdGuestRam(sink: (line: string) => void = (l) => console.log(l), host = Host.create()): MemfdGuestRamResult {
  const { lines, say, stop } = narrate(host, sink);
  try {
    say(`libvirt binds ${EDU_BDF} to vfio-pci`);
    const group = bindToVfioPci(host.spawn({ name: 'libvirtd' }), EDU_BDF);
    const qemu = host.spawn({ name: 'qemu' });

    say('QEMU: memory-backend-memfd with seal=on: a sealable memfd, sized, then sealed against resizing');
    const memfd = qemu.memfdCreate('ram', MFD_CLOEXEC | MFD_ALLOW_SEALING);
    qemu.ftruncate(memfd, RAM);
    qemu.fcntl(memfd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL);
    const ram = qemu.mmap(null, RAM, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);

    say('the mapping is guest memory slot 0 and the device\'s DMA space (IOVA = guest physical address)');
    const kvm = qemu.open('/dev/kvm', O_RDWR);
    const vm = qemu.ioctl(kvm, K.KVM_CREATE_VM, 0);
    const region = K.kvm_userspace_memory_region.alloc();
    region.memory_size = BigInt(RAM);
    region.userspace_addr = BigInt(ram.addr);
    qemu.ioctl(vm, K.KVM_SET_USER_MEMORY_REGION, region);
    const { container, device } = openVfioDevice(qemu, group, EDU_BDF);
    const map = V.vfio_iommu_type1_dma_map.alloc();
    map.argsz = V.vfio_iommu_type1_dma_map.size;
    map.flags = V.VFIO_DMA_MAP_FLAG_READ | V.VFIO_DMA_MAP_FLAG_WRITE;
    map.vaddr = BigInt(ram.addr);
    map.size = BigInt(RAM);
    qemu.ioctl(container, V.VFIO_IOMMU_MAP_DMA, map);

    say(`the guest stores "${GUEST_TEXT}" at 0x1000 and halts`);
    const words = new Uint32Array(new TextEncoder().encode(GUEST_TEXT).buffer);
    const asm = new GuestAsm('writer').label('start');
    words.forEach((w, i) => asm.mov(r1, w).store(0x1000 + 4 * i, r1));
    const vcpu = qemu.ioctl(vm, K.KVM_CREATE_VCPU, 0);
    const run = qemu.mmap(null, qemu.ioctl(kvm, K.KVM_GET_VCPU_MMAP_SIZE), PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
    host.control.kvm.loadGuest(qemu, vcpu, asm.label('halt').hlt().jmp('halt').build());
    qemu.ioctl(vcpu, K.KVM_RUN);
    if (run.read32(8) !== K.KVM_EXIT_HLT) throw new Error(`the guest exited with reason ${run.read32(8)}, not HLT`);

    say('the guest\'s driver has edu copy those bytes to 0x2000 by DMA, through its buffer');
    const bar0 = qemu.mmap(null, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, device, 0);
    eduDma(host, bar0, 0x1000, EDU_DMA_BUF, GUEST_TEXT.length, false);
    eduDma(host, bar0, EDU_DMA_BUF, 0x2000, GUEST_TEXT.length, true);

    say(`a vhost-user backend gets the memfd (SCM_RIGHTS in QEMU; here /proc/${qemu.pid}/fd/${memfd}, read-only)`);
    const backend = host.spawn({ name: 'vhost-user-blk' });
    const fd = backend.open(`/proc/${qemu.pid}/fd/${memfd}`, O_RDONLY);
    const seals = backend.fcntl(fd, F_GET_SEALS);
    const size = Number(backend.fstat(fd).st_size);
    const view = backend.mmap(null, size, PROT_READ, MAP_SHARED, fd, 0);
    const text = (at: number) => new TextDecoder().decode(view.bytes!.subarray(at, at + GUEST_TEXT.length));
    const backendSawGuest = text(0x1000);
    const backendSawDevice = text(0x2000);
    say(`the backend's mapping reads "${backendSawGuest}" at 0x1000 and "${backendSawDevice}" at 0x2000`);
    const backendTruncate = errName(() => backend.ftruncate(fd, 0));
    const qemuGrow = errName(() => qemu.ftruncate(memfd, 2 * RAM));
    say(`resizing: ${backendTruncate} through the backend's read-only fd, ${qemuGrow} through QEMU's (F_SEAL_GROW)`);
    return { lines, backendSawGuest, backendSawDevice, seals, backendTruncate, qemuGrow };
  } finally {
    stop();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) memfdGuestRam();

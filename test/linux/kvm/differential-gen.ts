// Random ioctl scripts for the KVM differential test (differential.test.ts, and the soak script).
import fc from 'fast-check';

const GSIS = [0, 4, 5, 8, 9, 16, 20, 23, 24, 30, 5000, 4095];
const EFDS = ['h3', 'h4', 'h5', 'h6'];

const gsi = fc.constantFrom(...GSIS);
const fdRef = fc.constantFrom(...EFDS, 'h7', '-1', '0');
const u8 = fc.integer({ min: 0, max: 255 });
const routeEntry = fc.oneof(
  fc.record({ g: fc.constantFrom(...GSIS, 4096), chip: fc.integer({ min: 0, max: 3 }), pin: fc.integer({ min: 0, max: 25 }), flags: fc.constantFrom(0, 0, 1) }).map((r) => `${r.g} 1 ${r.flags} ${r.chip} ${r.pin} 0 0`),
  fc.record({ g: fc.constantFrom(...GSIS), dest: fc.constantFrom(0, 1, 0xff), vec: u8, level: fc.boolean(), flags: fc.constantFrom(0, 0, 1, 2) }).map((r) => `${r.g} 2 ${r.flags} ${0xfee00000 + (r.dest << 12)} 0 ${r.vec | (r.level ? 0xc000 : 0)} 0`),
  fc.constantFrom('1 0 0 0 0 0 0', '1 4 0 0 0 0 0'),
);
const command = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fdRef, gsi, fc.constantFrom(0, 0, 1, 2, 2, 3, 4), fdRef).map(([f, g, fl, r]) => `irqfd h1 ${f} ${g} ${fl} ${r}\nsettle`) },
  // irqfd injection through an irqchip route is a work item on the real kernel (also the one queued when
  // an already-signalled eventfd is assigned): settle after writes and assigns.
  { weight: 4, arbitrary: fc.tuple(fc.constantFrom(...EFDS), fc.integer({ min: 0, max: 3 })).map(([f, n]) => `write ${f} ${n}\nsettle`) },
  { weight: 2, arbitrary: fc.constantFrom(...EFDS).map((f) => `read ${f}`) },
  { weight: 1, arbitrary: fc.constantFrom(...EFDS).map((f) => `poll ${f}`) },
  { weight: 2, arbitrary: fc.array(routeEntry, { maxLength: 3 }).map((es) => `route h1 ${es.length} 0 ${es.join(' ')}`) },
  { weight: 4, arbitrary: fc.tuple(fc.constantFrom('line', 'linest'), gsi, fc.constantFrom(0, 1, 2)).map(([c, g, l]) => `${c} h1 ${g} ${l}`) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(0, 1, 5, 0xff), u8, fc.boolean(), fc.constantFrom(0, 0, 1, 2)).map(([d, v, lv, f]) => `msi h1 ${0xfee00000 + (d << 12)} 0 ${v | (lv ? 0xc000 : 0)} ${f}`) },
  { weight: 2, arbitrary: fc.tuple(fc.integer({ min: 0, max: 23 }), u8, fc.boolean(), fc.boolean(), fc.constantFrom(0, 1)).map(([p, v, lv, m, d]) => `setpin h1 ${p} ${BigInt(d) << 56n | BigInt(v | (lv ? 0x8000 : 0) | (m ? 0x10000 : 0))}`) },
  { weight: 1, arbitrary: fc.constantFrom('getioapic h1', 'getpic h1 0', 'getpic h1 1', 'getlapic h2') },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(0x1000, 0x1004, 0x60), fc.constantFrom(0, 1, 2, 3, 4, 8), fc.constantFrom(...EFDS), fc.constantFrom(0, 1, 2, 3, 4, 5, 7), fc.constantFrom(0, 1, 0x1ff)).map(([a, l, f, fl, dm]) => `ioev h1 ${a} ${l} ${f} ${fl} ${dm}`) },
  { weight: 1, arbitrary: fc.constantFrom(...EFDS).map((f) => `close ${f}`) },
);
const prelude = fc.record({ chip: fc.constantFrom('kernel', 'kernel', 'kernel', 'split', 'none'), apic: fc.boolean() }).map(({ chip, apic }) => [
  'kvm', 'vm h0 0', ...(chip === 'kernel' ? ['irqchip h1'] : chip === 'split' ? ['cap h1 121 0 24'] : []), 'vcpu h1 0',
  'eventfd 0', 'eventfd 0', 'eventfd 0', 'eventfd 0', 'pipe', ...(apic && chip !== 'none' ? ['apicon h2'] : []),
]);
export const script = fc.tuple(prelude, fc.array(command, { minLength: 1, maxLength: 30, size: 'large' })).map(([p, cs]) => [...p, ...cs.flatMap((c) => c.split('\n'))]);


// I/O bus scripts: ioeventfds over and around the in-kernel IOAPIC's window (0xfec00000, 0x100) and in a
// window of their own, guest MMIO and port accesses (mmiow/mmior/piow/pior: which device takes each one or
// whether it exits, and what a read returns), and the IOAPIC/PIC state and eventfd counts they leave.
// Zero-length ioeventfds stay out of the IOAPIC window: on Intel hosts a zero-length MMIO ioeventfd is
// also matched on KVM_FAST_MMIO_BUS before the instruction is emulated (vmx.c handle_ept_misconfig),
// while SVM (and this machine's kvm_pvm) only emulate, so inside the IOAPIC's window hosts differ; the
// model follows the emulated path.
const IOAPIC_ADDRS = [0xfec00000, 0xfec00004, 0xfec00008, 0xfec00010, 0xfec00014, 0xfec00020, 0xfec00040, 0xfec000fc, 0xfec00100];
const OWN_ADDRS = [0xd0000000, 0xd0000002, 0xd0000004, 0xd0000008, 0xd000000c];
const ioevCmd = fc.oneof(
  fc.tuple(fc.constantFrom(...IOAPIC_ADDRS), fc.constantFrom(1, 2, 4, 8)),
  fc.tuple(fc.constantFrom(...OWN_ADDRS), fc.constantFrom(0, 1, 2, 4, 8)),
).chain(([a, l]) => fc.tuple(fc.constant(a), fc.constant(l), fc.constantFrom(...EFDS), fc.constantFrom(0, 0, 1, 4, 5), fc.constantFrom(0, 1, 5)))
  .map(([a, l, f, fl, dm]) => `ioev h1 ${a} ${l} ${f} ${fl} ${dm}`);
const mmioAddr = fc.tuple(fc.constantFrom(...IOAPIC_ADDRS, ...OWN_ADDRS), fc.constantFrom(0, 0, 0, 1, 2)).map(([a, d]) => a + d);
// Port I/O: the in-kernel 8259s (0x20/0x21, 0xa0/0xa1, ELCR 0x4d0/0x4d1) and PIO ioeventfds among them,
// with values that include ICW1 (init), OCW2 (EOI) and OCW3 (register reads, poll) commands.
const PIO_PORTS = [0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1, 0x22, 0x60];
const pioValue = fc.constantFrom(0, 0x11, 0x13, 0x20, 0x60, 0x0a, 0x0b, 0x0c, 0x08, 0x48, 0xff, 0xfb, 0x01, 0x02, 0x04, 0xc0, 0x1234);
// The in-kernel LAPIC's registers as the guest sees them (0xfee00000 + offset; before the MMIO bus, x86.c
// vcpu_mmio_write/read): every register but the timer's counts (wall-clock time on the real kernel).
// ICR writes send IPIs to self or others (the vCPU has IF clear, so they stay in IRR), with the values
// below including illegal vectors (< 16, which set ESR bits).
const LAPIC_REGS = [0x20, 0x30, 0x80, 0x90, 0xa0, 0xb0, 0xd0, 0xe0, 0xf0, 0x100, 0x110, 0x180, 0x200, 0x210, 0x280, 0x2f0, 0x300, 0x310, 0x320, 0x330, 0x340, 0x350, 0x360, 0x370, 0x3e0, 0x3f0, 0x24, 0xf2];
const lapicValue = fc.constantFrom(0, 1, 5, 0x10, 0x30, 0x40, 0xfe, 0xff, 0x100, 0x1ff, 0x10ff, 0x4040, 0x10000, 0x1c040, 0x80040, 0xc4040, 0x8000040, 0xff000000, 0xffffffff);
// TPR writes keep the low nibble clear: on this machine (kvm_pvm on an AMD host) TPR bits 3:0 read as
// 0 once the guest has run, as on SVM without AVIC, which copies the 4-bit V_TPR back into the TPR on
// exits (svm.c sync_cr8_to_lapic -> kvm_lapic_set_tpr(cr8 << 4)); Intel's TPR shadow keeps them, and so
// does the model.
const lapicCommand = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(fc.constantFrom(...LAPIC_REGS), lapicValue).map(([r, v]) => `mmiow h2 ${0xfee00000 + r} ${r & 3 ? 1 : 4} ${r === 0x80 ? v & 0xf0 : v}`) },
  { weight: 3, arbitrary: fc.constantFrom(...LAPIC_REGS).map((r) => `mmior h2 ${0xfee00000 + r} ${r & 3 ? 1 : 4}`) },
  { weight: 1, arbitrary: fc.constant('getlapic h2') },
  // KVM_SET_LAPIC of one register (kvm_apic_set_state: version restored, PPR recomputed, ISR/IRR counts
  // rebuilt). Not TMICT: a timer started that way fires on the real kernel's clock.
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...LAPIC_REGS.filter((r) => (r & 0xf) === 0), 0x120, 0x170, 0x1a0, 0x220, 0x270), lapicValue).map(([r, v]) => `setlapic h2 ${r} ${r === 0x80 ? v & 0xf0 : v}`) },
);
const busCommand = fc.oneof(
  { weight: 4, arbitrary: ioevCmd },
  { weight: 5, arbitrary: fc.tuple(mmioAddr, fc.constantFrom(1, 2, 4), fc.constantFrom(0, 1, 5, 0x10, 0x12)).map(([a, l, v]) => `mmiow h2 ${a} ${l} ${v}`) },
  { weight: 3, arbitrary: fc.tuple(mmioAddr, fc.constantFrom(1, 2, 4)).map(([a, l]) => `mmior h2 ${a} ${l}`) },
  { weight: 4, arbitrary: fc.tuple(fc.constantFrom(...PIO_PORTS), fc.constantFrom(1, 1, 1, 2, 4), pioValue).map(([p, l, v]) => `piow h2 ${p} ${l} ${v}`) },
  { weight: 3, arbitrary: fc.tuple(fc.constantFrom(...PIO_PORTS), fc.constantFrom(1, 1, 2)).map(([p, l]) => `pior h2 ${p} ${l}`) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...PIO_PORTS), fc.constantFrom(1, 2, 4), fc.constantFrom(...EFDS), fc.constantFrom(2, 2, 3, 6, 7), fc.constantFrom(0, 1, 0x20)).map(([a, l, f, fl, dm]) => `ioev h1 ${a} ${l} ${f} ${fl} ${dm}`) },
  { weight: 2, arbitrary: fc.constantFrom(...EFDS).map((f) => `read ${f}`) },
  { weight: 1, arbitrary: fc.constantFrom('getioapic h1', 'getpic h1 0', 'getpic h1 1') },
  { weight: 6, arbitrary: lapicCommand },
  // KVM_SET_IRQCHIP with one field changed: any byte of either kvm_pic_state (no validation: the 8259
  // then runs from that state), or the IOAPIC's IOREGSEL, ID and IRR (kvm_set_ioapic re-injects IRR).
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(0, 1), fc.integer({ min: 0, max: 15 }), fc.constantFrom(0, 1, 2, 3, 4, 8, 0x0a, 0x0b, 0x10, 0x11, 0x20, 0x40, 0x80, 0xfe, 0xff)).map(([c, o, v]) => `setchip h1 ${c} ${o} 1 ${v}`) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(8, 12, 16), fc.constantFrom(0, 1, 0x10, 0x11, 0x12, 0x3f, 0x100, 0x10001, 0x800000, 0x0f000000, 0xffffffff)).map(([o, v]) => `setchip h1 2 ${o} 4 ${v}`) },
);
const busPrelude = fc.constantFrom('kernel', 'kernel', 'none').map((chip) => [
  'kvm', 'vm h0 0', ...(chip === 'kernel' ? ['irqchip h1'] : []), 'vcpu h1 0', 'eventfd 0', 'eventfd 0', 'eventfd 0', 'eventfd 0',
  'mem h1 0 0 0 0x10000 0',
]);
export const ioBusScript = fc.tuple(busPrelude, fc.array(busCommand, { minLength: 1, maxLength: 25, size: 'large' })).map(([p, cs]) => [...p, ...cs]);

// APIC delivery scripts: three vCPUs whose xAPIC IDs, LDR/DFR (flat and cluster logical mode), software
// enable and TPR are set through KVM_SET_LAPIC, then MSIs (KVM_SIGNAL_MSI) and IOAPIC pins with physical,
// logical, broadcast and lowest-priority destinations; every LAPIC's IRR/TMR/ISR is compared
// (lapic.c kvm_irq_delivery_to_apic_fast, kvm_apic_match_dest, the APIC map, lowest-priority choice).
const VCPUS = ['h2', 'h3', 'h4'];
const vcpuRef = fc.constantFrom(...VCPUS);
const apicSetup = fc.oneof(
  fc.tuple(vcpuRef, fc.constantFrom(0, 0x01000000, 0x02000000, 0x03000000, 0x04000000, 0x10000000, 0x11000000, 0x12000000, 0x21000000, 0xff000000)).map(([v, x]) => `setlapic ${v} 208 ${x}`),
  fc.tuple(vcpuRef, fc.constantFrom(0xffffffff, 0x0fffffff)).map(([v, x]) => `setlapic ${v} 224 ${x}`),
  fc.tuple(vcpuRef, fc.constantFrom(0, 0x01000000, 0x02000000, 0x05000000, 0xff000000)).map(([v, x]) => `setlapic ${v} 32 ${x}`),
  fc.tuple(vcpuRef, fc.constantFrom(0x1ff, 0xff, 0x10f)).map(([v, x]) => `setlapic ${v} 240 ${x}`),
  fc.tuple(vcpuRef, fc.constantFrom(0, 0x40, 0x80, 0xf0)).map(([v, x]) => `setlapic ${v} 128 ${x}`),
);
const apicDest = fc.constantFrom(0, 1, 2, 3, 4, 5, 0x10, 0x11, 0x12, 0x21, 0x0f, 0xff);
const apicDelivery = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(apicDest, fc.boolean(), fc.boolean(), fc.constantFrom(0x31, 0x45, 0x80, 0xe2), fc.constantFrom(0, 1), fc.boolean()).map(([d, logical, rh, vec, mode, level]) => `msi h1 ${0xfee00000 + d * 4096 + (logical ? 4 : 0) + (rh ? 8 : 0)} 0 ${vec | (mode << 8) | (level ? 0xc000 : 0)} 0`) },
  { weight: 2, arbitrary: fc.tuple(fc.integer({ min: 1, max: 23 }), apicDest, fc.boolean(), fc.constantFrom(0x33, 0x51, 0x90), fc.constantFrom(0, 1), fc.boolean()).map(([pin, d, logical, vec, mode, level]) => `setpin h1 ${pin} ${(BigInt(d) << 56n) | BigInt(vec | (mode << 8) | (logical ? 0x800 : 0) | (level ? 0x8000 : 0))}`) },
  { weight: 2, arbitrary: fc.tuple(fc.integer({ min: 1, max: 23 }), fc.constantFrom(0, 1)).map(([pin, l]) => `line h1 ${pin} ${l}`) },
);
const apicCommand = fc.oneof(
  { weight: 3, arbitrary: apicSetup },
  { weight: 5, arbitrary: apicDelivery },
  { weight: 2, arbitrary: vcpuRef.map((v) => `getlapic ${v}`) },
);
const LDRS = [0x01000000, 0x02000000, 0x04000000, 0x03000000, 0x11000000, 0x12000000, 0x21000000, 0x10000000];
/** Each script starts with every vCPU in one logical mode (flat or cluster) and a logical ID, so that the
 *  APIC map's fast path is used; commands may change any of it afterwards (a mixed map takes the slow
 *  path). */
const apicPrelude = fc.tuple(fc.constantFrom(0xffffffff, 0x0fffffff), fc.tuple(fc.constantFrom(...LDRS), fc.constantFrom(...LDRS), fc.constantFrom(...LDRS)))
  .map(([dfr, ldrs]) => VCPUS.flatMap((v, i) => [`setlapic ${v} 224 ${dfr}`, `setlapic ${v} 208 ${ldrs[i]}`]));
export const apicScript = fc.tuple(apicPrelude, fc.array(apicCommand, { minLength: 1, maxLength: 30, size: 'large' })).map(([p, cs]) => [
  'kvm', 'vm h0 0', 'irqchip h1', 'vcpu h1 0', 'vcpu h1 1', 'vcpu h1 2', 'apicon h2', 'apicon h3', 'apicon h4', ...p, ...cs,
  'getlapic h2', 'getlapic h3', 'getlapic h4',
]);

// MSR and SREGS scripts: KVM_SET/GET_MSRS batches over the model's MSRs, x2APIC and unknown ones, and
// KVM_SET_SREGS pokes of the registers kvm_is_valid_sregs checks, read back through both interfaces.
// Host-dependent inputs are kept out (see differential.test.ts): PAT values kvm_pat_valid refuses, SYSENTER_CS
// above 32 bits, EFER's SVME/LMSLE/FFXSR, CR4 bits that depend on host CPU features (11-14, 16-18, 20-25),
// and CR0.PG with PE outside long mode; MISC_ENABLE is written first (its RESET value differs on kvm_pvm).
const MSRS = [0x10, 0x1b, 0x3b, 0x174, 0x175, 0x176, 0x1a0, 0x277, 0x2ff, 0x6e0, 0x800, 0x802, 0x830, 0x8ff,
  0xc0000080, 0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084, 0xc0000100, 0xc0000101, 0xc0000102, 0x12345, 0xdeadbeef];
const MSR_VALUES = [0n, 1n, 2n, 6n, 0x100n, 0x401n, 0x501n, 0x800n, 0x805n, 0xc06n, 0xd01n, 0x12345678n, 0xffffffffn, 0x100000000n,
  0x7fffffffffffn, 0x800000000000n, 0xffff800000000000n, 0xfff0800000000000n, 0xffffffffffffffffn, 0xfee00800n, 0xfee00900n,
  0xfee00d00n, 0x0007040600070406n];
const PAT_VALID = [0n, 0x0007040600070406n, 0x0706050401000706n, 0x0101010101010101n];
const msrValue = (index: number, v: bigint, k: number): bigint =>
  index === 0x277 && !PAT_VALID.includes(v) ? PAT_VALID[k % PAT_VALID.length]! : index === 0x174 ? v & 0xffffffffn : v;
const msrPair = fc.tuple(fc.constantFrom(...MSRS), fc.constantFrom(...MSR_VALUES), fc.nat(3)).map(([i, v, k]) => `0x${i.toString(16)} 0x${msrValue(i, v, k).toString(16)}`);
const CR0S = [0x60000010n, 0x11n, 0x1n, 0x0n, 0x60000000n, 0x20000000n, 0x80000000n, 0x80000011n, 0x100000010n, 0x1ffeffffn];
const CR4S = [0n, 0x20n, 0x7ffn, 0x8000n, 0x100000000n, 0x21n];
const EFERS = [0n, 1n, 2n, 0x100n, 0x101n, 0x400n, 0x500n, 0x501n, 0x800n, 0xd01n, 0x200n];
const CR3S = [0n, 0x1000n, 0xffffff000n, 0x1000000000n, 0x10000000000n];
const VECTORS = [0, 32, 64, 65, 200, 255];
const sregsPoke = fc.record({
  cr0: fc.constantFrom(...CR0S), cr4: fc.constantFrom(...CR4S), efer: fc.constantFrom(...EFERS), cr3: fc.constantFrom(...CR3S),
  l: fc.constantFrom(0, 0, 1), fs: fc.constantFrom(0n, 0x800000000000n, 0xffff800000000000n), ib: fc.array(fc.constantFrom(...VECTORS), { maxLength: 2 }),
  apic: fc.constantFrom(null, null, 0xfee00900, 0xfee00800, 0xfee00d00),
}).filter((r) => !(r.cr0 & 0x80000000n && r.cr0 & 1n && !(r.efer & 0x100n)))
  .map((r) => `setsregs h2 cr0=0x${r.cr0.toString(16)} cr4=0x${r.cr4.toString(16)} efer=0x${r.efer.toString(16)} cr3=0x${r.cr3.toString(16)} l=${r.l} fs=0x${r.fs.toString(16)}${r.ib.map((v) => ` ib=${v}`).join('')}${r.apic === null ? '' : ` apic_base=0x${r.apic.toString(16)}`}`);
const msrCommand = fc.oneof(
  { weight: 5, arbitrary: fc.array(msrPair, { minLength: 1, maxLength: 3 }).map((ps) => `setmsr h2 ${ps.join(' ')}`) },
  { weight: 4, arbitrary: fc.array(fc.constantFrom(...MSRS), { minLength: 1, maxLength: 4 }).map((is) => `getmsr h2 ${is.map((i) => `0x${i.toString(16)}`).join(' ')}`) },
  { weight: 3, arbitrary: sregsPoke },
  { weight: 2, arbitrary: fc.constant('getsregs h2') },
  { weight: 1, arbitrary: fc.constantFrom('getmp h2', 'setmp h2 0', 'setmp h2 3', 'runie h2', 'nmsrs h2 256') },
);
export const msrScript = fc.tuple(fc.boolean(), fc.array(msrCommand, { minLength: 1, maxLength: 25, size: 'large' })).map(([irqchip, cs]) => [
  'kvm', 'vm h0 0', ...(irqchip ? ['irqchip h1'] : []), 'vcpu h1 0', 'setmsr h2 0x1a0 0', ...cs, 'getsregs h2',
  'getmsr h2 0x1b 0x174 0x175 0x176 0x1a0 0x277 0x2ff 0xc0000080 0xc0000081 0xc0000082 0xc0000083 0xc0000084 0xc0000100 0xc0000101 0xc0000102',
]);

// INIT/SIPI scripts: two vCPUs with in-kernel LAPICs, their registers, segments, MSRs and APIC base poked,
// INIT, SIPI and NMI messages (KVM_SIGNAL_MSI) and SET_MP_STATE, read back through GET_MP_STATE (which accepts
// the events), GET_REGS, GET_SREGS and GET_MSRS. Kept out (host-dependent, see differential.test.ts): reads of
// the FS/GS base MSRs (kvm_pvm keeps them across INIT), RFLAGS bits but IF (the model keeps only IF), GPR values
// beyond 2^53 (the guest model's registers are doubles).
const RESET_VCPUS = ['h2', 'h3'] as const;
const GPR_VALUES = [0n, 1n, 0x600n, 0x1234n, 0xfff0n, 0xffffffffn, 0x1fffffffffffffn];
const resetMsrs = MSRS.filter((i) => i !== 0xc0000100 && i !== 0xc0000101 && i !== 0x10);
const resetCommand = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(fc.constantFrom(...RESET_VCPUS), fc.nat(16), fc.constantFrom(...GPR_VALUES)).map(([v, i, x]) => `setgpr ${v} ${i} 0x${x.toString(16)}`) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...RESET_VCPUS), fc.constantFrom(0x2, 0x202)).map(([v, f]) => `setgpr ${v} 17 0x${f.toString(16)}`) },
  { weight: 3, arbitrary: fc.tuple(fc.constantFrom(...RESET_VCPUS), sregsPoke).map(([v, s]) => s.replace('setsregs h2', `setsregs ${v}`)) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...RESET_VCPUS), fc.constantFrom(0x10, 0xf000, 0x9a00), fc.constantFrom(0n, 0x9a000n, 0xffff0000n)).map(([v, sel, base]) => `setsregs ${v} cssel=0x${sel.toString(16)} csbase=0x${base.toString(16)}`) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...RESET_VCPUS), fc.array(msrPair, { minLength: 1, maxLength: 3 })).map(([v, ps]) => `setmsr ${v} ${ps.join(' ')}`) },
  { weight: 4, arbitrary: fc.tuple(fc.nat(1), fc.constantFrom(0x400, 0x500, 0x500, 0x600, 0x612, 0x69a, 0x6ff)).map(([id, d]) => `msi h1 0x${((0xfee00000 | (id << 12)) >>> 0).toString(16)} 0 0x${d.toString(16)} 0`) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...RESET_VCPUS), fc.nat(4)).map(([v, s]) => `setmp ${v} ${s}`) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...RESET_VCPUS), fc.constantFrom(0x80, 0x90, 0xd0, 0x380, 0x3f0), fc.constantFrom(0x10, 0x33, 0x01000000)).map(([v, o, x]) => `setlapic ${v} 0x${o.toString(16)} 0x${x.toString(16)}`) },
  { weight: 1, arbitrary: fc.constantFrom(...RESET_VCPUS).map((v) => `apicon ${v}`) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...RESET_VCPUS), fc.constantFrom(0n, 0x400n, 0xffff0ff0n, 0xffffffffn, 0x100000000n), fc.constantFrom(0n, 0x400n, 0xffffffffn, 0x100000000n), fc.constantFrom(0n, 0x1234n)).map(([v, d6, d7, d0]) => `setdbg ${v} 0 0x${d6.toString(16)} 0x${d7.toString(16)} 0x${d0.toString(16)}`) },
  { weight: 4, arbitrary: fc.tuple(fc.constantFrom('getmp', 'getregs', 'getseg', 'getsregs'), fc.constantFrom(...RESET_VCPUS)).map(([c, v]) => `${c} ${v}`) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...RESET_VCPUS), fc.array(fc.constantFrom(...resetMsrs), { minLength: 1, maxLength: 4 })).map(([v, is]) => `getmsr ${v} ${is.map((i) => `0x${i.toString(16)}`).join(' ')}`) },
);
export const resetScript = fc.array(resetCommand, { minLength: 1, maxLength: 30, size: 'large' }).map((cs) => [
  'kvm', 'vm h0 0', 'irqchip h1', 'vcpu h1 0', 'vcpu h1 1', 'setmsr h2 0x1a0 0', 'setmsr h3 0x1a0 0', ...cs,
  ...RESET_VCPUS.flatMap((v) => [`getmp ${v}`, `getregs ${v}`, `getseg ${v}`, `getsregs ${v}`, `getdbg ${v}`,
    `getmsr ${v} ${resetMsrs.filter((i) => i < 0x800 || i > 0x8ff).map((i) => `0x${i.toString(16)}`).join(' ')}`,
    `lapicreg ${v} 0x20`, `lapicreg ${v} 0x90`, `lapicreg ${v} 0xf0`, `lapicreg ${v} 0x350`, `lapicreg ${v} 0x3f0`]),
]);

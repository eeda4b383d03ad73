// drivers/vfio/pci/vfio_pci_intrs.c: the actions of VFIO_DEVICE_SET_IRQS after the common validation
// (vfio_set_irqs_validate_and_prepare, in vfio-pci-core.ts), and everything behind them.
//
// Dispatch (vfio_pci_set_irqs_ioctl): INTx takes MASK, UNMASK and TRIGGER; MSI and MSI-X only TRIGGER;
// ERR (PCIe functions only) and REQ only TRIGGER; any other index/action pair is ENOTTY.
//
// INTx (reference vfio.md §4.3-4.4):
// - enable (TRIGGER + EVENTFD while nothing is enabled; fd -1 enables without a trigger): the initial
//   masked state is the virtual INTx Disable bit; a PCI 2.3 device mirrors it in Command.INTx-Disable and
//   requests its line IRQF_SHARED; a device without PCI 2.3 masking needs the line exclusively (EBUSY
//   when a host driver holds it), is masked at the interrupt controller (IRQ_DISABLE_UNLAZY) and starts
//   disabled (IRQF_NO_AUTOEN) if masked. ENODEV without an irq. irq_type is set before request_irq.
// - the hard IRQ handler: PCI 2.3 — if not already masked, pci_check_and_mask_intx() claims the
//   interrupt only if Interrupt Status is set (it may be another device's), masking it with INTx
//   Disable; otherwise IRQ_NONE. Non-2.3 — disable_irq_nosync() and claim. Then the trigger eventfd is
//   signalled, unless the guest has INTx disabled in its virtual Command register.
// - unmask (ioctl, or a signal of the unmask eventfd): only if masked and not virtually disabled;
//   PCI 2.3 uses pci_check_and_unmask_intx(): if the device is still asserting it stays masked and the
//   trigger is signalled again (from a work item when it came through the eventfd); non-2.3: enable_irq.
// - mask (ioctl, or the virtual INTx Disable bit): INTx Disable (2.3) or disable_irq_nosync. With INTx
//   not enabled the physical bit simply follows the virtual one on 2.3 devices.
// - TRIGGER + EVENTFD while enabled swaps the trigger (fd -1 drops it, INTx stays enabled);
//   NONE/BOOL TRIGGER is a loopback signal; count 0 + NONE disables (virqfds, free_irq).
// MSI/MSI-X (§4.5): enable allocates start+count vectors (fewer available: the count is returned and
// nothing is enabled); each vector with an fd gets its own irq; on every (re)bind the cached message is
// rewritten to the MSI-X table first; fd -1 unbinds; rebinding beyond the allocated vectors is EINVAL;
// the other interrupt type active: EINVAL; count 0 + NONE disables. Memory Space is enabled around
// every access to the table (vfio_pci_memory_lock_and_enable).
// ERR/REQ (§4.6): one eventfd each; REQ is signalled each time the host asks for the device back.
//
// One deliberate difference: every eventfd of a vector block is looked up before any vector is
// touched, so a bad fd fails the call with nothing changed (the kernel unbinds the vectors it had
// already rebound in that call).

import { getS32 } from '../../../../abi/bytes.js';
import { kerr } from '../../errors.js';
import { eventfdCtxFdget, type EventFdCtx } from '../../eventfd.js';
import type { FileContext } from '../../fs/file.js';
import type { Kernel } from '../../kernel.js';
import type { PciDev } from '../../pci/pci-dev.js';
import { IRQ_HANDLED, IRQ_NONE, IRQF_NO_AUTOEN, IRQF_SHARED } from '../../irq/irqdesc.js';
import { virqfdDisable, virqfdEnable, VirqfdSlot } from '../virqfd.js';
import type { VfioPciCoreDevice, VfioPciIntrs } from './vfio-pci-core.js';
import { PCI_COMMAND, PCI_COMMAND_MEMORY } from '../../../../include-ts/linux/pci_regs.js';
import {
  VFIO_IRQ_SET_ACTION_MASK, VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_IRQ_SET_ACTION_TYPE_MASK, VFIO_IRQ_SET_ACTION_UNMASK,
  VFIO_IRQ_SET_DATA_BOOL, VFIO_IRQ_SET_DATA_EVENTFD, VFIO_IRQ_SET_DATA_NONE, VFIO_PCI_ERR_IRQ_INDEX,
  VFIO_PCI_INTX_IRQ_INDEX, VFIO_PCI_MSIX_IRQ_INDEX, VFIO_PCI_MSI_IRQ_INDEX, VFIO_PCI_REQ_IRQ_INDEX,
} from '../../../../include-ts/linux/vfio.js';

// Module-local copies for the interrupt path.
const INTX = VFIO_PCI_INTX_IRQ_INDEX;
const HANDLED = IRQ_HANDLED;
const NONE = IRQ_NONE;
/** vdev->irq_type when nothing is enabled (the kernel uses VFIO_PCI_NUM_IRQS). */
export const IRQ_TYPE_NONE = -1;

const INDEX_NAMES = ['INTx', 'MSI', 'MSI-X', 'ERR', 'REQ'];

/** struct vfio_pci_irq_ctx */
export class VfioIrqCtx {
  trigger: EventFdCtx | null = null;
  masked = false;
  /** The Linux irq (MSI/MSI-X vectors; INTx uses pdev->irq). */
  irq = -1;
  readonly unmask = new VirqfdSlot();
  readonly mask = new VirqfdSlot();

  constructor(
    readonly owner: VfioPciIntrsImpl,
    readonly name: string,
  ) {}
}

/** vfio_intx_handler(): the hard IRQ handler of the device's INTx line. */
function vfio_intx_handler(_irq: number, dev: unknown): number {
  const ctx = dev as VfioIrqCtx;
  const v = ctx.owner;
  let ret = NONE;
  if (!v.pci23) {
    v.kernel.irq.disableIrqNosync(v.pdev.irq);
    ctx.masked = true;
    ret = HANDLED;
  } else if (!ctx.masked && v.pdev.checkAndMaskIntx()) {
    ctx.masked = true;
    ret = HANDLED;
  }
  if (ret === HANDLED) {
    if (v.kernel.trace.active) v.traceHop('vfio-mask', v.pci23 ? 'automask: INTx Disable set (pci_check_and_mask_intx)' : 'automask: disable_irq_nosync (no PCI 2.3 masking)');
    v.sendIntxEventfd(ctx);
  }
  return ret;
}

/** vfio_msihandler(): an MSI/MSI-X vector's handler signals its trigger. */
function vfio_msihandler(_irq: number, arg: unknown): number {
  (arg as EventFdCtx).signal();
  return HANDLED;
}

/** A trigger slot changing hands: the new context's reference taken, the old one's dropped (eventfd_ctx_put). */
function swapRef(cur: EventFdCtx | null, next: EventFdCtx | null): EventFdCtx | null {
  if (next !== cur) {
    next?.get();
    cur?.put();
  }
  return next;
}

export class VfioPciIntrsImpl implements VfioPciIntrs {
  irqType = IRQ_TYPE_NONE;
  msiQmax = 0;
  /** vdev->ctx: INTx uses [0]; MSI/MSI-X one per vector with a trigger. */
  readonly ctx: (VfioIrqCtx | undefined)[] = [];
  /** Vectors allocated for MSI/MSI-X (num_ctx in older kernels). */
  numVectors = 0;
  errTrigger: EventFdCtx | null = null;
  reqTrigger: EventFdCtx | null = null;
  readonly pdev: PciDev;
  readonly kernel: Kernel;

  constructor(readonly core: VfioPciCoreDevice) {
    this.pdev = core.pdev;
    this.kernel = core.kernel;
  }

  get pci23(): boolean {
    return this.core.pci23;
  }

  /** vdev->virq_disabled: the guest's virtual Command.INTx-Disable. */
  get virqDisabled(): boolean {
    return this.core.config?.virqDisabled ?? false;
  }

  // ---- INTx ----------------------------------------------------------------------------------------

  /** vfio_send_intx_eventfd() */
  sendIntxEventfd(ctx: VfioIrqCtx): void {
    if (this.irqType === INTX && !this.virqDisabled) {
      const t = ctx.trigger;
      if (t !== null) t.signal();
    }
  }

  /** __vfio_pci_intx_mask(): true if the masked state changed. */
  intxMask(): boolean {
    const irq = this.kernel.irq;
    irq.localIrqSave();
    try {
      if (this.irqType !== INTX) {
        if (this.pci23) this.pdev.intx(false);
        return true;
      }
      const ctx = this.ctx[0]!;
      if (!ctx.masked) {
        if (this.pci23) this.pdev.intx(false);
        else irq.disableIrqNosync(this.pdev.irq);
        ctx.masked = true;
        if (this.kernel.trace.active) this.traceHop('vfio-mask', 'masked');
      }
      return true;
    } finally {
      irq.localIrqRestore();
    }
  }

  /** vfio_pci_intx_unmask_handler(): 1 when the trigger must be signalled again (still asserting). */
  intxUnmaskHandler(): number {
    const irq = this.kernel.irq;
    irq.localIrqSave();
    try {
      if (this.irqType !== INTX) {
        if (this.pci23) this.pdev.intx(true);
        return 0;
      }
      const ctx = this.ctx[0]!;
      let ret = 0;
      if (ctx.masked && !this.virqDisabled) {
        if (this.pci23) {
          if (!this.pdev.checkAndUnmaskIntx()) ret = 1;
        } else irq.enableIrq(this.pdev.irq);
        ctx.masked = ret > 0;
        if (this.kernel.trace.active) this.traceHop('vfio-unmask', ret > 0 ? 'still asserting: stays masked, trigger signalled again' : 'unmasked');
      }
      return ret;
    } finally {
      irq.localIrqRestore();
    }
  }

  /** __vfio_pci_intx_unmask() */
  intxUnmask(): boolean {
    const ctx = this.ctx[0];
    if (this.intxUnmaskHandler() > 0 && ctx) this.sendIntxEventfd(ctx);
    return true;
  }

  /** Out of line, and called only when tracing: the interrupt paths stay small enough to inline. */
  traceHop(hop: 'vfio-mask' | 'vfio-unmask', detail: string): void {
    this.kernel.trace.emit({ type: 'irq', t: this.kernel.sched.now, hop, at: this.pdev.name, detail });
  }

  /** vfio_intx_enable() */
  private intxEnable(trigger: EventFdCtx | null): void {
    if (this.irqType !== IRQ_TYPE_NONE) throw kerr('EINVAL', `${INDEX_NAMES[this.irqType]} is enabled on ${this.pdev.name}: disable it before enabling INTx`);
    const pdev = this.pdev;
    const irqNo = pdev.irq;
    if (!irqNo) throw kerr('ENODEV', `${pdev.name} has no INTx interrupt routed to the host`);
    const irq = this.kernel.irq;
    const ctx = new VfioIrqCtx(this, `vfio-intx(${pdev.name})`);
    ctx.trigger = trigger;
    ctx.masked = this.virqDisabled;
    let flags: number;
    if (this.pci23) {
      pdev.intx(!ctx.masked);
      flags = IRQF_SHARED;
    } else flags = ctx.masked ? IRQF_NO_AUTOEN : 0;
    this.ctx[0] = ctx;
    this.irqType = INTX;
    if (!this.pci23) irq.setDisableUnlazy(irqNo, true);
    try {
      irq.requestIrq(irqNo, vfio_intx_handler, flags, ctx.name, ctx);
    } catch (e) {
      if (!this.pci23) irq.setDisableUnlazy(irqNo, false);
      this.irqType = IRQ_TYPE_NONE;
      this.ctx[0] = undefined;
      throw e;
    }
    trigger?.get();
  }

  /** vfio_intx_set_signal(): swaps the trigger of enabled INTx. */
  private intxSetSignal(trigger: EventFdCtx | null): void {
    const c = this.ctx[0]!;
    c.trigger = swapRef(c.trigger, trigger);
  }

  /** vfio_intx_disable() */
  private intxDisable(): void {
    const ctx = this.ctx[0];
    if (ctx) {
      const sched = this.kernel.sched;
      virqfdDisable(sched, ctx.unmask);
      virqfdDisable(sched, ctx.mask);
      this.kernel.irq.freeIrq(this.pdev.irq, ctx);
      if (!this.pci23) this.kernel.irq.setDisableUnlazy(this.pdev.irq, false);
      ctx.trigger?.put();
      this.ctx[0] = undefined;
    }
    this.irqType = IRQ_TYPE_NONE;
  }

  private setIntxUnmask(ctx: FileContext, start: number, count: number, flags: number, data: Uint8Array): number {
    if (this.irqType !== INTX || start !== 0 || count !== 1) throw this.intxRangeError('UNMASK', start, count);
    if (flags & VFIO_IRQ_SET_DATA_NONE) this.intxUnmask();
    else if (flags & VFIO_IRQ_SET_DATA_BOOL) {
      if (data[0]) this.intxUnmask();
    } else if (flags & VFIO_IRQ_SET_DATA_EVENTFD) {
      const ictx = this.ctx[0]!;
      const fd = getS32(data, 0);
      if (fd >= 0) {
        virqfdEnable(ctx, ictx.unmask, fd, () => this.intxUnmaskHandler(), () => this.sendIntxEventfd(ictx), ictx.name);
        return 0;
      }
      virqfdDisable(this.kernel.sched, ictx.unmask);
    }
    return 0;
  }

  private setIntxMask(start: number, count: number, flags: number, data: Uint8Array): number {
    if (this.irqType !== INTX || start !== 0 || count !== 1) throw this.intxRangeError('MASK', start, count);
    if (flags & VFIO_IRQ_SET_DATA_NONE) this.intxMask();
    else if (flags & VFIO_IRQ_SET_DATA_BOOL) {
      if (data[0]) this.intxMask();
    } else if (flags & VFIO_IRQ_SET_DATA_EVENTFD) {
      throw kerr('ENOTTY', 'INTx MASK with an eventfd is not implemented by vfio-pci (only UNMASK takes an eventfd)');
    }
    return 0;
  }

  private intxRangeError(action: string, start: number, count: number): Error {
    if (this.irqType !== INTX) return kerr('EINVAL', `INTx ${action}: INTx is not enabled on ${this.pdev.name}${this.irqType !== IRQ_TYPE_NONE ? ` (${INDEX_NAMES[this.irqType]} is)` : ''}`);
    return kerr('EINVAL', `INTx ${action} needs start 0 and count 1 (got start ${start}, count ${count})`);
  }

  private setIntxTrigger(ctx: FileContext, start: number, count: number, flags: number, data: Uint8Array): number {
    if (this.irqType === INTX && count === 0 && flags & VFIO_IRQ_SET_DATA_NONE) {
      this.intxDisable();
      return 0;
    }
    if (!(this.irqType === INTX || this.irqType === IRQ_TYPE_NONE)) throw kerr('EINVAL', `${INDEX_NAMES[this.irqType]} is enabled on ${this.pdev.name}: disable it (count 0, DATA_NONE|ACTION_TRIGGER) before using INTx`);
    if (start !== 0 || count !== 1) throw kerr('EINVAL', `INTx TRIGGER needs start 0 and count 1 (got start ${start}, count ${count}); count 0 with DATA_NONE disables enabled INTx`);
    if (flags & VFIO_IRQ_SET_DATA_EVENTFD) {
      const fd = getS32(data, 0);
      const trigger = fd >= 0 ? eventfdCtxFdget(ctx, fd, 'trigger eventfd') : null;
      if (this.irqType === INTX) this.intxSetSignal(trigger);
      else this.intxEnable(trigger);
      return 0;
    }
    if (this.irqType !== INTX) throw kerr('EINVAL', `INTx is not enabled on ${this.pdev.name}: a loopback trigger needs it`);
    if (flags & VFIO_IRQ_SET_DATA_NONE || data[0]) this.sendIntxEventfd(this.ctx[0]!);
    return 0;
  }

  // ---- MSI / MSI-X ---------------------------------------------------------------------------------

  /** vfio_pci_memory_lock_and_enable(): Memory Space on while the kernel touches the MSI-X table. */
  private memoryLockAndEnable(): number {
    const cmd = this.pdev.readConfig(PCI_COMMAND, 2);
    if (!(cmd & PCI_COMMAND_MEMORY)) this.pdev.writeConfig(PCI_COMMAND, 2, cmd | PCI_COMMAND_MEMORY);
    return cmd;
  }

  private memoryUnlockAndRestore(cmd: number): void {
    this.pdev.writeConfig(PCI_COMMAND, 2, cmd);
  }

  /** vfio_msi_enable(): 0, or the (positive) number of vectors the host can give when fewer than asked. */
  private msiEnable(nvec: number, msix: boolean): number {
    if (this.irqType !== IRQ_TYPE_NONE) throw kerr('EINVAL', `${INDEX_NAMES[this.irqType]} is enabled on ${this.pdev.name}: disable it first`);
    const cmd = this.memoryLockAndEnable();
    let ret: number;
    try {
      ret = this.kernel.msi.allocIrqVectors(this.pdev, 1, nvec, msix);
    } catch (e) {
      this.memoryUnlockAndRestore(cmd);
      throw e;
    }
    if (ret < nvec) {
      this.kernel.msi.freeIrqVectors(this.pdev);
      this.memoryUnlockAndRestore(cmd);
      return ret;
    }
    this.memoryUnlockAndRestore(cmd);
    this.numVectors = nvec;
    this.irqType = msix ? VFIO_PCI_MSIX_IRQ_INDEX : VFIO_PCI_MSI_IRQ_INDEX;
    if (!msix) this.msiQmax = 31 - Math.clz32(nvec * 2 - 1);
    return 0;
  }

  /** vfio_msi_set_vector_signal() with the eventfd already looked up (null: unbind). */
  private msiSetVectorSignal(vector: number, trigger: EventFdCtx | null, msix: boolean): void {
    const pdev = this.pdev;
    const irq = this.kernel.irq;
    const old = this.ctx[vector];
    if (old) {
      const cmd = this.memoryLockAndEnable();
      irq.freeIrq(old.irq, old.trigger);
      this.memoryUnlockAndRestore(cmd);
      old.trigger?.put();
      this.ctx[vector] = undefined;
    }
    if (trigger === null) return;
    const irqNo = this.kernel.msi.irqVector(pdev, vector);
    const ctx = new VfioIrqCtx(this, `vfio-msi${msix ? 'x' : ''}[${vector}](${pdev.name})`);
    ctx.irq = irqNo;
    const cmd = this.memoryLockAndEnable();
    if (msix) this.kernel.msi.rewrite(pdev, vector);
    try {
      irq.requestIrq(irqNo, vfio_msihandler, 0, ctx.name, trigger);
    } finally {
      this.memoryUnlockAndRestore(cmd);
    }
    ctx.trigger = trigger.get();
    this.ctx[vector] = ctx;
  }

  /** vfio_msi_set_block(): every fd is looked up first (see the header). */
  private msiSetBlock(ctx: FileContext, start: number, count: number, data: Uint8Array | null, msix: boolean): void {
    if (start >= this.numVectors || start + count > this.numVectors) {
      throw kerr('EINVAL', `vectors [${start}, ${start + count}) are beyond the ${this.numVectors} ${msix ? 'MSI-X' : 'MSI'} vector(s) enabled on ${this.pdev.name}`);
    }
    const triggers: (EventFdCtx | null)[] = [];
    for (let i = 0; i < count; i++) {
      const fd = data ? getS32(data, 4 * i) : -1;
      triggers.push(fd >= 0 ? eventfdCtxFdget(ctx, fd, `eventfd for vector ${start + i}`) : null);
    }
    for (let i = 0; i < count; i++) this.msiSetVectorSignal(start + i, triggers[i]!, msix);
  }

  /** vfio_msi_disable() */
  private msiDisable(msix: boolean): void {
    const sched = this.kernel.sched;
    for (let i = 0; i < this.ctx.length; i++) {
      const c = this.ctx[i];
      if (!c) continue;
      virqfdDisable(sched, c.unmask);
      virqfdDisable(sched, c.mask);
      this.msiSetVectorSignal(i, null, msix);
    }
    const cmd = this.memoryLockAndEnable();
    this.kernel.msi.freeIrqVectors(this.pdev);
    this.memoryUnlockAndRestore(cmd);
    if (this.core.nointx) this.pdev.intx(false);
    this.ctx.length = 0;
    this.numVectors = 0;
    this.irqType = IRQ_TYPE_NONE;
  }

  private setMsiTrigger(ctx: FileContext, index: number, start: number, count: number, flags: number, data: Uint8Array): number {
    const msix = index === VFIO_PCI_MSIX_IRQ_INDEX;
    const kind = msix ? 'MSI-X' : 'MSI';
    if (this.irqType === index && count === 0 && flags & VFIO_IRQ_SET_DATA_NONE) {
      this.msiDisable(msix);
      return 0;
    }
    if (!(this.irqType === index || this.irqType === IRQ_TYPE_NONE)) {
      throw kerr('EINVAL', `${INDEX_NAMES[this.irqType]} is enabled on ${this.pdev.name}: only one of INTx, MSI and MSI-X can be enabled (disable it with count 0, DATA_NONE|ACTION_TRIGGER)`);
    }
    if (flags & VFIO_IRQ_SET_DATA_EVENTFD) {
      if (this.irqType === index) {
        this.msiSetBlock(ctx, start, count, data, msix);
        return 0;
      }
      // Look every fd up before allocating anything.
      for (let i = 0; i < count; i++) {
        const fd = getS32(data, 4 * i);
        if (fd >= 0) eventfdCtxFdget(ctx, fd, `eventfd for vector ${start + i}`);
      }
      const ret = this.msiEnable(start + count, msix);
      if (ret) {
        this.kernel.log.info(`vfio-pci ${this.pdev.name}: ${kind}: only ${ret} of ${start + count} vectors available`);
        return ret;
      }
      // A block the new vectors cannot hold (count 0 with start > 0) fails after the enable: undo it
      // (vfio_pci_set_msi_trigger calls vfio_msi_disable when vfio_msi_set_block fails).
      try {
        this.msiSetBlock(ctx, start, count, data, msix);
      } catch (e) {
        this.msiDisable(msix);
        throw e;
      }
      return 0;
    }
    if (this.irqType !== index) throw kerr('EINVAL', `${kind} is not enabled on ${this.pdev.name}: a loopback trigger needs it`);
    for (let i = start; i < start + count; i++) {
      const c = this.ctx[i];
      if (!c || !c.trigger) continue;
      if (flags & VFIO_IRQ_SET_DATA_NONE || data[i - start]) c.trigger.signal();
    }
    return 0;
  }

  // ---- ERR / REQ -----------------------------------------------------------------------------------

  /** vfio_pci_set_ctx_trigger_single(); returns the new slot value. */
  private setTriggerSingle(ctx: FileContext, what: string, cur: EventFdCtx | null, count: number, flags: number, data: Uint8Array): EventFdCtx | null {
    if (flags & VFIO_IRQ_SET_DATA_NONE) {
      if (!cur) throw kerr('EINVAL', `no ${what} eventfd is registered: DATA_NONE can neither signal nor clear it`);
      if (count) {
        cur.signal();
        return cur;
      }
      return null;
    }
    if (flags & VFIO_IRQ_SET_DATA_BOOL) {
      if (!count) throw kerr('EINVAL', `${what}: DATA_BOOL needs count 1`);
      if (data[0] && cur) cur.signal();
      return cur;
    }
    if (!count) throw kerr('EINVAL', `${what}: DATA_EVENTFD needs count 1`);
    const fd = getS32(data, 0);
    if (fd === -1) return null;
    if (fd >= 0) return eventfdCtxFdget(ctx, fd, `${what} eventfd`);
    return cur;
  }

  private checkSingle(what: string, start: number, count: number): void {
    if (start !== 0 || count > 1) throw kerr('EINVAL', `${what} has a single interrupt: start must be 0 and count 0 or 1 (got start ${start}, count ${count})`);
  }

  // ---- VFIO_DEVICE_SET_IRQS --------------------------------------------------------------------------

  /** vfio_pci_set_irqs_ioctl() */
  setIrqs(ctx: FileContext, index: number, start: number, count: number, flags: number, data: Uint8Array): number {
    const action = flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;
    switch (index) {
      case VFIO_PCI_INTX_IRQ_INDEX:
        if (action === VFIO_IRQ_SET_ACTION_MASK) return this.setIntxMask(start, count, flags, data);
        if (action === VFIO_IRQ_SET_ACTION_UNMASK) return this.setIntxUnmask(ctx, start, count, flags, data);
        if (action === VFIO_IRQ_SET_ACTION_TRIGGER) return this.setIntxTrigger(ctx, start, count, flags, data);
        break;
      case VFIO_PCI_MSI_IRQ_INDEX:
      case VFIO_PCI_MSIX_IRQ_INDEX:
        if (action === VFIO_IRQ_SET_ACTION_TRIGGER) return this.setMsiTrigger(ctx, index, start, count, flags, data);
        if (action === VFIO_IRQ_SET_ACTION_MASK || action === VFIO_IRQ_SET_ACTION_UNMASK) {
          throw kerr('ENOTTY', `${INDEX_NAMES[index]} vectors cannot be masked or unmasked through SET_IRQS (vfio-pci implements TRIGGER only)`);
        }
        break;
      case VFIO_PCI_ERR_IRQ_INDEX:
        if (action === VFIO_IRQ_SET_ACTION_TRIGGER && this.pdev.isPcie) {
          this.checkSingle('ERR', start, count);
          this.errTrigger = swapRef(this.errTrigger, this.setTriggerSingle(ctx, 'ERR', this.errTrigger, count, flags, data));
          return 0;
        }
        break;
      case VFIO_PCI_REQ_IRQ_INDEX:
        if (action === VFIO_IRQ_SET_ACTION_TRIGGER) {
          this.checkSingle('REQ', start, count);
          this.reqTrigger = swapRef(this.reqTrigger, this.setTriggerSingle(ctx, 'REQ', this.reqTrigger, count, flags, data));
          return 0;
        }
        break;
      default:
        break;
    }
    throw kerr('ENOTTY', `${INDEX_NAMES[index] ?? `index ${index}`} does not support ${action === 0 ? 'no action' : 'this action'} (exactly one of ACTION_MASK, ACTION_UNMASK, ACTION_TRIGGER; ${index === VFIO_PCI_INTX_IRQ_INDEX ? 'INTx takes all three' : 'only TRIGGER here'})`);
  }

  // ---- lifecycle, REQ, ERR -------------------------------------------------------------------------

  /** vfio_pci_core_disable() + close_device: whatever is enabled is disabled; ERR/REQ released. */
  disableAll(): void {
    if (this.irqType === INTX) this.intxDisable();
    else if (this.irqType === VFIO_PCI_MSI_IRQ_INDEX) this.msiDisable(false);
    else if (this.irqType === VFIO_PCI_MSIX_IRQ_INDEX) this.msiDisable(true);
    this.errTrigger = swapRef(this.errTrigger, null);
    this.reqTrigger = swapRef(this.reqTrigger, null);
  }

  /** vfio_pci_core_request(): the host asks for the device back (the count-th time). */
  request(count: number): boolean {
    const t = this.reqTrigger;
    if (t) {
      if (count % 10 === 0) this.kernel.log.printk(5, `vfio-pci ${this.pdev.name}: Relaying device request to user (#${count})`);
      t.signal();
    } else if (count === 0) {
      this.kernel.log.warn(`vfio-pci ${this.pdev.name}: No device request channel registered, blocked until released by user`);
    }
    return true;
  }

  /** vfio_pci_core_aer_err_detected(): an AER error on the device is relayed to the ERR eventfd. */
  errorDetected(): boolean {
    const t = this.errTrigger;
    if (t) t.signal();
    return t !== null;
  }
}

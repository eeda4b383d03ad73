// xen/common/spinlock.c as the model needs it: a lock held across the steps of a step task. A task
// that finds it taken spins (yields) until the holder releases it; since steps are atomic, a step that
// acquires and releases within itself never observes a held lock unless another task holds it.

export class SpinLock {
  holder: string | null = null;

  constructor(readonly name: string) {}

  get held(): boolean {
    return this.holder !== null;
  }

  /** spin_lock(): yields while another task holds it. */
  *acquire(by: string): Generator<void, void, void> {
    while (this.holder !== null) yield;
    this.holder = by;
  }

  /** spin_trylock() */
  tryAcquire(by: string): boolean {
    if (this.holder !== null) return false;
    this.holder = by;
    return true;
  }

  release(): void {
    if (this.holder === null) throw new Error(`${this.name}: released while not held`);
    this.holder = null;
  }
}

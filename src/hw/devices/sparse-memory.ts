// Device memory behind a large BAR (a GPU's VRAM aperture, a scratch register file): pages are
// allocated on first write so a 256 MiB BAR costs nothing until used. Unwritten bytes read as 0.

const PAGE = 4096;

export class SparseMemory {
  private readonly pages = new Map<number, Uint8Array>();

  constructor(readonly size: number) {}

  private page(off: number, create: boolean): Uint8Array | undefined {
    const n = Math.floor(off / PAGE);
    let p = this.pages.get(n);
    if (!p && create) {
      p = new Uint8Array(PAGE);
      this.pages.set(n, p);
    }
    return p;
  }

  read(off: number, size: number): number {
    let v = 0;
    for (let i = size - 1; i >= 0; i--) {
      const o = off + i;
      const p = this.page(o, false);
      v = (v << 8) | (p ? p[o % PAGE]! : 0);
    }
    return v >>> 0;
  }

  write(off: number, size: number, value: number): void {
    for (let i = 0; i < size; i++) {
      const o = off + i;
      if (o >= this.size) return;
      this.page(o, true)![o % PAGE] = (value >>> (i * 8)) & 0xff;
    }
  }

  clear(): void {
    this.pages.clear();
  }

  get pagesInUse(): number {
    return this.pages.size;
  }
}

/*
 * The real-kernel side of the KVM differential test (test/linux/kvm/differential.test.ts): reads a
 * script of ioctl-level commands on stdin and prints one result line per command, in the format the
 * model side (test/linux/kvm/diff-model.ts) prints for the same script. Apart from mmiow/mmior/piow
 * (guest() below), no guest code is executed: only results the reference calls trustworthy on any host
 * (errors, routing validation, IRQ_LINE_STATUS values, IOAPIC/LAPIC state read back, eventfd counters).
 *
 * Handles: every command that creates an fd stores it as h<N> (N counts from 0 per sequence); an fd
 * argument is either hN or a literal number (e.g. -1, 0). "reset" closes every handle and starts a new
 * sequence; "settle" waits a few milliseconds so queued work items (irqfd injection) have run, as the
 * model's eager scheduler does at every syscall exit. Result lines: "<ret> <errno>[ extra]".
 * "runie" is KVM_RUN with kvm_run.immediate_exit set, so the guest never executes: only the entry
 * checks and post_kvm_run_save are compared (kvm_run.cr8 and kvm_run.apic_base afterwards).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/kvm.h>

#define MAXH 256
static int h[MAXH];
static int nh;
static char *buf;
#define BUFSZ (1 << 20)

static int fdarg(const char *s)
{
	if (s[0] == 'h')
		return h[atoi(s + 1)];
	return atoi(s);
}

static void res(long r, const char *extra)
{
	printf("%ld %d%s%s\n", r < 0 ? -1 : r, r < 0 ? errno : 0, extra ? " " : "", extra ? extra : "");
}

static void newh(long r)
{
	if (r >= 0) {
		h[nh++] = (int)r;
		printf("ok 0\n");
	} else {
		printf("-1 %d\n", errno);
	}
}

/*
 * Runs guest code on vcpu vfd: flat 32-bit protected mode, the code copied to guest-physical 0x1000
 * (which a slot must map to buf + 0x1000) followed by OUT 0x10, eax. Prints each exit until that OUT:
 * "mmio@addr/len" per KVM_EXIT_MMIO and "io@port=value" per port exit (reads are answered with 0x5a
 * bytes; port 0x10 ends the run). The one place the helper executes guest code: to see which
 * in-kernel device (or the VMM) an access reaches and what it returns.
 */
static void guest(int vfd, const unsigned char *body, int len)
{
	unsigned char *code = (unsigned char *)buf + 0x1000;
	struct kvm_sregs sr;
	struct kvm_regs rg;
	char x[512];
	int xo = 0;
	memcpy(code, body, len);
	code[len] = 0xe7; /* out 0x10, eax */
	code[len + 1] = 0x10;
	x[0] = 0;
	long r = ioctl(vfd, KVM_GET_SREGS, &sr);
	if (r == 0) {
		struct kvm_segment seg = { .base = 0, .limit = 0xffffffff, .selector = 0x10, .type = 3,
					   .present = 1, .db = 1, .s = 1, .g = 1 };
		sr.ds = sr.es = sr.fs = sr.gs = sr.ss = seg;
		seg.selector = 0x08;
		seg.type = 11;
		sr.cs = seg;
		sr.cr0 |= 1;
		r = ioctl(vfd, KVM_SET_SREGS, &sr);
	}
	if (r == 0) {
		memset(&rg, 0, sizeof rg);
		rg.rip = 0x1000;
		rg.rflags = 2;
		r = ioctl(vfd, KVM_SET_REGS, &rg);
	}
	struct kvm_run *run = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, vfd, 0);
	if (run == MAP_FAILED) {
		res(-1, NULL);
		return;
	}
	for (int i = 0; r == 0 && i < 6; i++) {
		r = ioctl(vfd, KVM_RUN, 0);
		if (r < 0)
			break;
		if (run->exit_reason == KVM_EXIT_MMIO) {
			xo += snprintf(x + xo, sizeof x - xo, "%smmio@%#llx/%u", xo ? " " : "",
				       (unsigned long long)run->mmio.phys_addr, run->mmio.len);
			if (!run->mmio.is_write)
				memset(run->mmio.data, 0x5a, sizeof run->mmio.data);
			continue;
		}
		if (run->exit_reason != KVM_EXIT_IO) {
			xo += snprintf(x + xo, sizeof x - xo, "%sexit%u", xo ? " " : "", run->exit_reason);
			break;
		}
		uint32_t v = 0;
		if (run->io.direction == KVM_EXIT_IO_IN)
			memset((char *)run + run->io.data_offset, 0x5a, run->io.size);
		memcpy(&v, (char *)run + run->io.data_offset, run->io.size);
		xo += snprintf(x + xo, sizeof x - xo, "%sio@%#x=%#x", xo ? " " : "", run->io.port, v);
		if (run->io.port == 0x10)
			break;
	}
	int e = errno;
	munmap(run, 8192);
	errno = e;
	res(r, x);
}

int main(void)
{
	char line[8192];
	buf = mmap(NULL, BUFSZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	while (fgets(line, sizeof line, stdin)) {
		char *tok[64];
		int n = 0;
		for (char *p = strtok(line, " \n"); p && n < 64; p = strtok(NULL, " \n"))
			tok[n++] = p;
		if (!n)
			continue;
		const char *c = tok[0];
		errno = 0;
		if (!strcmp(c, "reset")) {
			for (int i = 0; i < nh; i++)
				if (h[i] >= 0)
					close(h[i]);
			nh = 0;
			printf("reset\n");
		} else if (!strcmp(c, "settle")) {
			/* Let work items (irqfd_inject runs from the system workqueue) finish. */
			usleep(3000);
			printf("settle\n");
		} else if (!strcmp(c, "kvm")) {
			newh(open("/dev/kvm", O_RDWR | O_CLOEXEC));
		} else if (!strcmp(c, "vm")) {
			newh(ioctl(fdarg(tok[1]), KVM_CREATE_VM, strtoul(tok[2], 0, 0)));
		} else if (!strcmp(c, "vcpu")) {
			newh(ioctl(fdarg(tok[1]), KVM_CREATE_VCPU, strtoul(tok[2], 0, 0)));
		} else if (!strcmp(c, "eventfd")) {
			newh(eventfd(strtoul(tok[1], 0, 0), EFD_NONBLOCK | EFD_CLOEXEC));
		} else if (!strcmp(c, "pipe")) {
			int p[2];
			long r = pipe2(p, O_CLOEXEC);
			if (r == 0) {
				h[nh++] = p[0];
				h[nh++] = p[1];
			}
			res(r, NULL);
		} else if (!strcmp(c, "close")) {
			int i = atoi(tok[1] + 1);
			long r = close(h[i]);
			res(r, NULL);
			h[i] = -1;
		} else if (!strcmp(c, "irqchip")) {
			res(ioctl(fdarg(tok[1]), KVM_CREATE_IRQCHIP, 0), NULL);
		} else if (!strcmp(c, "cap")) {
			struct kvm_enable_cap cap;
			memset(&cap, 0, sizeof cap);
			cap.cap = strtoul(tok[2], 0, 0);
			cap.flags = strtoul(tok[3], 0, 0);
			cap.args[0] = strtoull(tok[4], 0, 0);
			res(ioctl(fdarg(tok[1]), KVM_ENABLE_CAP, &cap), NULL);
		} else if (!strcmp(c, "check")) {
			res(ioctl(fdarg(tok[1]), KVM_CHECK_EXTENSION, strtoul(tok[2], 0, 0)), NULL);
		} else if (!strcmp(c, "write")) {
			uint64_t v = strtoull(tok[2], 0, 0);
			res(write(fdarg(tok[1]), &v, 8), NULL);
		} else if (!strcmp(c, "read")) {
			uint64_t v = 0;
			char x[32];
			long r = read(fdarg(tok[1]), &v, 8);
			snprintf(x, sizeof x, "%llu", (unsigned long long)v);
			res(r, r == 8 ? x : NULL);
		} else if (!strcmp(c, "poll")) {
			struct pollfd p = { .fd = fdarg(tok[1]), .events = POLLIN };
			char x[32];
			long r = poll(&p, 1, 0);
			snprintf(x, sizeof x, "%d", p.revents);
			res(r, x);
		} else if (!strcmp(c, "irqfd")) {
			struct kvm_irqfd f;
			memset(&f, 0, sizeof f);
			f.fd = fdarg(tok[2]);
			f.gsi = strtoul(tok[3], 0, 0);
			f.flags = strtoul(tok[4], 0, 0);
			f.resamplefd = fdarg(tok[5]);
			res(ioctl(fdarg(tok[1]), KVM_IRQFD, &f), NULL);
		} else if (!strcmp(c, "route")) {
			int nr = atoi(tok[2]);
			struct kvm_irq_routing *r = calloc(1, sizeof(*r) + (nr + 1) * sizeof(r->entries[0]));
			r->nr = nr;
			r->flags = strtoul(tok[3], 0, 0);
			for (int i = 0, k = 4; i < nr && k + 6 < n; i++, k += 7) {
				r->entries[i].gsi = strtoul(tok[k], 0, 0);
				r->entries[i].type = strtoul(tok[k + 1], 0, 0);
				r->entries[i].flags = strtoul(tok[k + 2], 0, 0);
				for (int j = 0; j < 4; j++)
					r->entries[i].u.pad[j] = strtoul(tok[k + 3 + j], 0, 0);
			}
			res(ioctl(fdarg(tok[1]), KVM_SET_GSI_ROUTING, r), NULL);
			free(r);
		} else if (!strcmp(c, "line") || !strcmp(c, "linest")) {
			struct kvm_irq_level l;
			char x[32];
			int st = !strcmp(c, "linest");
			l.irq = strtoul(tok[2], 0, 0);
			l.level = strtoul(tok[3], 0, 0);
			long r = ioctl(fdarg(tok[1]), st ? KVM_IRQ_LINE_STATUS : KVM_IRQ_LINE, &l);
			snprintf(x, sizeof x, "%d", l.status);
			res(r, st && r == 0 ? x : NULL);
		} else if (!strcmp(c, "msi")) {
			struct kvm_msi m;
			memset(&m, 0, sizeof m);
			m.address_lo = strtoul(tok[2], 0, 0);
			m.address_hi = strtoul(tok[3], 0, 0);
			m.data = strtoul(tok[4], 0, 0);
			m.flags = strtoul(tok[5], 0, 0);
			res(ioctl(fdarg(tok[1]), KVM_SIGNAL_MSI, &m), NULL);
		} else if (!strcmp(c, "ioev")) {
			struct kvm_ioeventfd e;
			memset(&e, 0, sizeof e);
			e.addr = strtoull(tok[2], 0, 0);
			e.len = strtoul(tok[3], 0, 0);
			e.fd = fdarg(tok[4]);
			e.flags = strtoul(tok[5], 0, 0);
			e.datamatch = strtoull(tok[6], 0, 0);
			res(ioctl(fdarg(tok[1]), KVM_IOEVENTFD, &e), NULL);
		} else if (!strcmp(c, "getioapic")) {
			struct kvm_irqchip ch;
			char x[1024];
			int o;
			memset(&ch, 0, sizeof ch);
			ch.chip_id = KVM_IRQCHIP_IOAPIC;
			long r = ioctl(fdarg(tok[1]), KVM_GET_IRQCHIP, &ch);
			o = snprintf(x, sizeof x, "irr=%x", ch.chip.ioapic.irr);
			for (int i = 0; i < 24; i++)
				o += snprintf(x + o, sizeof x - o, ",%llx", (unsigned long long)ch.chip.ioapic.redirtbl[i].bits);
			res(r, r == 0 ? x : NULL);
		} else if (!strcmp(c, "setpin")) {
			struct kvm_irqchip ch;
			memset(&ch, 0, sizeof ch);
			ch.chip_id = KVM_IRQCHIP_IOAPIC;
			long r = ioctl(fdarg(tok[1]), KVM_GET_IRQCHIP, &ch);
			if (r == 0) {
				ch.chip.ioapic.redirtbl[atoi(tok[2])].bits = strtoull(tok[3], 0, 0);
				r = ioctl(fdarg(tok[1]), KVM_SET_IRQCHIP, &ch);
			}
			res(r, NULL);
		} else if (!strcmp(c, "setchip")) {
			/* setchip vm chip_id off len value: len bytes of the kvm_irqchip union, GET then SET_IRQCHIP. */
			struct kvm_irqchip ch;
			uint32_t val = strtoul(tok[5], 0, 0);
			memset(&ch, 0, sizeof ch);
			ch.chip_id = strtoul(tok[2], 0, 0);
			long r = ioctl(fdarg(tok[1]), KVM_GET_IRQCHIP, &ch);
			if (r == 0) {
				memcpy((char *)&ch.chip + strtoul(tok[3], 0, 0), &val, atoi(tok[4]));
				r = ioctl(fdarg(tok[1]), KVM_SET_IRQCHIP, &ch);
			}
			res(r, NULL);
		} else if (!strcmp(c, "getpic")) {
			struct kvm_irqchip ch;
			char x[128];
			memset(&ch, 0, sizeof ch);
			ch.chip_id = strtoul(tok[2], 0, 0);
			long r = ioctl(fdarg(tok[1]), KVM_GET_IRQCHIP, &ch);
			unsigned char *p = (unsigned char *)&ch.chip.pic;
			snprintf(x, sizeof x, "irr=%x imr=%x isr=%x elcr=%x last=%x", p[1], p[2], p[3], p[14], p[0]);
			res(r, r == 0 ? x : NULL);
		} else if (!strcmp(c, "apicon") || !strcmp(c, "setlapic")) {
			/*
			 * setlapic vcpu off value: one u32 of the register page, through KVM_GET_LAPIC and
			 * KVM_SET_LAPIC; apicon vcpu is setlapic vcpu 0xf0 0x1ff (software enable, spurious 0xff).
			 */
			int on = !strcmp(c, "apicon");
			unsigned off = on ? 0xf0 : strtoul(tok[2], 0, 0);
			uint32_t val = on ? 0x1ff : strtoul(tok[3], 0, 0);
			struct kvm_lapic_state s;
			long r = ioctl(fdarg(tok[1]), KVM_GET_LAPIC, &s);
			if (r == 0) {
				memcpy(s.regs + off, &val, 4);
				r = ioctl(fdarg(tok[1]), KVM_SET_LAPIC, &s);
			}
			res(r, NULL);
		} else if (!strcmp(c, "getlapic")) {
			struct kvm_lapic_state s;
			char x[256];
			int o = 0;
			long r = ioctl(fdarg(tok[1]), KVM_GET_LAPIC, &s);
			for (int base = 0x100; base <= 0x200; base += 0x80) {
				o += snprintf(x + o, sizeof x - o, "%s", base == 0x100 ? "isr=" : base == 0x180 ? " tmr=" : " irr=");
				for (int i = 7; i >= 0; i--)
					o += snprintf(x + o, sizeof x - o, "%08x", *(uint32_t *)(s.regs + base + i * 16));
			}
			res(r, r == 0 ? x : NULL);
		} else if (!strcmp(c, "mem")) {
			struct kvm_userspace_memory_region m;
			m.slot = strtoul(tok[2], 0, 0);
			m.flags = strtoul(tok[3], 0, 0);
			m.guest_phys_addr = strtoull(tok[4], 0, 0);
			m.memory_size = strtoull(tok[5], 0, 0);
			m.userspace_addr = tok[6][0] == '@' ? strtoull(tok[6] + 1, 0, 0) : (uint64_t)(uintptr_t)(buf + strtoull(tok[6], 0, 0));
			res(ioctl(fdarg(tok[1]), KVM_SET_USER_MEMORY_REGION, &m), NULL);
		} else if (!strcmp(c, "runie")) {
			/* runie vcpu [cr8]: KVM_RUN with immediate_exit; prints kvm_run.cr8 and apic_base afterwards. */
			char x[64];
			struct kvm_run *run = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fdarg(tok[1]), 0);
			if (run == MAP_FAILED) {
				res(-1, NULL);
				continue;
			}
			run->immediate_exit = 1;
			if (n > 2)
				run->cr8 = strtoull(tok[2], 0, 0);
			/* A stale value, so that the line shows KVM rewrote it. */
			run->apic_base = 0x5a5a;
			long r = ioctl(fdarg(tok[1]), KVM_RUN, 0);
			int e = errno;
			snprintf(x, sizeof x, "cr8=%llu apic_base=%#llx", (unsigned long long)run->cr8,
				 (unsigned long long)run->apic_base);
			munmap(run, 4096);
			errno = e;
			res(r, x);
		} else if (!strcmp(c, "getcr8") || !strcmp(c, "getab")) {
			/* getcr8/getab vcpu: KVM_GET_SREGS; prints cr8 or apic_base. */
			struct kvm_sregs sr;
			char x[48];
			long r = ioctl(fdarg(tok[1]), KVM_GET_SREGS, &sr);
			if (!strcmp(c, "getcr8"))
				snprintf(x, sizeof x, "cr8=%llu", (unsigned long long)sr.cr8);
			else
				snprintf(x, sizeof x, "apic_base=%#llx", (unsigned long long)sr.apic_base);
			res(r, r == 0 ? x : NULL);
		} else if (!strcmp(c, "setcr8") || !strcmp(c, "setab")) {
			/* setcr8 vcpu cr8, setab vcpu apic_base [cr8]: one KVM_SET_SREGS over KVM_GET_SREGS's values. */
			struct kvm_sregs sr;
			int ab = !strcmp(c, "setab");
			long r = ioctl(fdarg(tok[1]), KVM_GET_SREGS, &sr);
			if (r == 0) {
				if (ab)
					sr.apic_base = strtoull(tok[2], 0, 0);
				if (!ab)
					sr.cr8 = strtoull(tok[2], 0, 0);
				else if (n > 3)
					sr.cr8 = strtoull(tok[3], 0, 0);
				r = ioctl(fdarg(tok[1]), KVM_SET_SREGS, &sr);
			}
			res(r, NULL);
		} else if (!strcmp(c, "msrlist")) {
			/* msrlist kvm room: KVM_GET_MSR_INDEX_LIST with nmsrs = room; prints the count and the list. */
			static struct { struct kvm_msr_list l; uint32_t i[1024]; } L;
			char x[8192];
			int o;
			L.l.nmsrs = strtoul(tok[2], 0, 0);
			long r = ioctl(fdarg(tok[1]), KVM_GET_MSR_INDEX_LIST, &L);
			o = snprintf(x, sizeof x, "n=%u", L.l.nmsrs);
			for (unsigned i = 0; r == 0 && i < L.l.nmsrs && i < 1024; i++)
				o += snprintf(x + o, sizeof x - o, "%s%#x", i ? "," : " list=", L.i[i]);
			res(r, x);
		} else if (!strcmp(c, "getmsr") || !strcmp(c, "setmsr") || !strcmp(c, "nmsrs")) {
			/*
			 * getmsr vcpu idx...: KVM_GET_MSRS, every data prefilled with 0x5a bytes, pad and reserved
			 * nonzero; prints every entry's data afterwards (processed, failed or untouched), the TSC's
			 * (0x10) as "tsc" once read (it is the host's clock). setmsr vcpu idx data [idx data]...:
			 * KVM_SET_MSRS. nmsrs vcpu n: KVM_GET_MSRS of n entries of SYSENTER_CS (0x174).
			 */
			static struct { struct kvm_msrs h; struct kvm_msr_entry e[300]; } M;
			char x[4096];
			int o = 0, set = !strcmp(c, "setmsr"), cnt = !strcmp(c, "nmsrs");
			unsigned nm = cnt ? strtoul(tok[2], 0, 0) : set ? (n - 2) / 2 : n - 2;
			memset(&M, 0, sizeof M);
			M.h.nmsrs = nm;
			M.h.pad = 7;
			for (unsigned i = 0; i < nm && i < 300; i++) {
				M.e[i].index = cnt ? 0x174 : strtoul(tok[2 + (set ? 2 * i : i)], 0, 0);
				M.e[i].reserved = 5;
				M.e[i].data = set ? strtoull(tok[3 + 2 * i], 0, 0) : 0x5a5a5a5a5a5a5a5aull;
			}
			long r = ioctl(fdarg(tok[1]), set ? KVM_SET_MSRS : KVM_GET_MSRS, &M);
			x[0] = 0;
			for (unsigned i = 0; !set && !cnt && i < nm; i++) {
				if (M.e[i].index == 0x10 && r > (long)i)
					o += snprintf(x + o, sizeof x - o, "%stsc", i ? "," : "");
				else
					o += snprintf(x + o, sizeof x - o, "%s%#llx", i ? "," : "", (unsigned long long)M.e[i].data);
			}
			res(r, !set && !cnt ? x : NULL);
		} else if (!strcmp(c, "getsregs")) {
			struct kvm_sregs sr;
			char x[512];
			int ib = -1;
			long r = ioctl(fdarg(tok[1]), KVM_GET_SREGS, &sr);
			for (int i = 0; i < 256; i++)
				if (sr.interrupt_bitmap[i / 64] >> (i % 64) & 1) {
					ib = i;
					break;
				}
			snprintf(x, sizeof x, "cr0=%#llx cr3=%#llx cr4=%#llx efer=%#llx apic_base=%#llx cr8=%llu fs=%#llx gs=%#llx l=%u ib=%d",
				 (unsigned long long)sr.cr0, (unsigned long long)sr.cr3, (unsigned long long)sr.cr4,
				 (unsigned long long)sr.efer, (unsigned long long)sr.apic_base, (unsigned long long)sr.cr8,
				 (unsigned long long)sr.fs.base, (unsigned long long)sr.gs.base, sr.cs.l, ib);
			res(r, r == 0 ? x : NULL);
		} else if (!strcmp(c, "setsregs")) {
			/*
			 * setsregs vcpu field=value...: KVM_GET_SREGS, the fields changed, KVM_SET_SREGS. Fields: cr0 cr3
			 * cr4 efer apic_base cr8 fs gs (bases) l (cs.l) cssel csbase, ib (sets that interrupt_bitmap bit;
			 * the bitmap starts empty, as GET_SREGS fills it with the injected interrupt only).
			 */
			struct kvm_sregs sr;
			long r = ioctl(fdarg(tok[1]), KVM_GET_SREGS, &sr);
			memset(sr.interrupt_bitmap, 0, sizeof sr.interrupt_bitmap);
			for (int i = 2; r == 0 && i < n; i++) {
				char *eq = strchr(tok[i], '=');
				unsigned long long v = strtoull(eq + 1, 0, 0);
				*eq = 0;
				if (!strcmp(tok[i], "cr0")) sr.cr0 = v;
				else if (!strcmp(tok[i], "cr3")) sr.cr3 = v;
				else if (!strcmp(tok[i], "cr4")) sr.cr4 = v;
				else if (!strcmp(tok[i], "efer")) sr.efer = v;
				else if (!strcmp(tok[i], "apic_base")) sr.apic_base = v;
				else if (!strcmp(tok[i], "cr8")) sr.cr8 = v;
				else if (!strcmp(tok[i], "fs")) sr.fs.base = v;
				else if (!strcmp(tok[i], "gs")) sr.gs.base = v;
				else if (!strcmp(tok[i], "l")) sr.cs.l = v;
				else if (!strcmp(tok[i], "cssel")) sr.cs.selector = v;
				else if (!strcmp(tok[i], "csbase")) sr.cs.base = v;
				else if (!strcmp(tok[i], "ib")) sr.interrupt_bitmap[v / 64] |= 1ull << (v % 64);
			}
			if (r == 0)
				r = ioctl(fdarg(tok[1]), KVM_SET_SREGS, &sr);
			res(r, NULL);
		} else if (!strcmp(c, "getmp") || !strcmp(c, "setmp")) {
			struct kvm_mp_state mp = { .mp_state = n > 2 ? strtoul(tok[2], 0, 0) : 0xff };
			char x[32];
			long r = ioctl(fdarg(tok[1]), c[0] == 'g' ? KVM_GET_MP_STATE : KVM_SET_MP_STATE, &mp);
			snprintf(x, sizeof x, "mp=%u", mp.mp_state);
			res(r, c[0] == 'g' && r == 0 ? x : NULL);
		} else if (!strcmp(c, "setrip")) {
			struct kvm_regs rg;
			long r = ioctl(fdarg(tok[1]), KVM_GET_REGS, &rg);
			rg.rip = strtoull(tok[2], 0, 0);
			if (r == 0)
				r = ioctl(fdarg(tok[1]), KVM_SET_REGS, &rg);
			res(r, NULL);
		} else if (!strcmp(c, "getregs")) {
			/* getregs vcpu: KVM_GET_REGS; the 16 GPRs (rax..r15, kvm_regs order), rip and rflags in hex. */
			struct kvm_regs rg;
			char x[512];
			int o;
			long r = ioctl(fdarg(tok[1]), KVM_GET_REGS, &rg);
			unsigned long long *g = (unsigned long long *)&rg;
			o = snprintf(x, sizeof x, "gpr=");
			for (int i = 0; i < 16; i++)
				o += snprintf(x + o, sizeof x - o, "%s%llx", i ? "," : "", g[i]);
			snprintf(x + o, sizeof x - o, " rip=%#llx rflags=%#llx", (unsigned long long)rg.rip,
				 (unsigned long long)rg.rflags);
			res(r, r == 0 ? x : NULL);
		} else if (!strcmp(c, "setgpr")) {
			/* setgpr vcpu i value [i value]...: KVM_GET_REGS, u64 i of kvm_regs (0-15 GPRs, 16 rip, 17 rflags) set, KVM_SET_REGS. */
			struct kvm_regs rg;
			long r = ioctl(fdarg(tok[1]), KVM_GET_REGS, &rg);
			for (int i = 2; r == 0 && i + 1 < n; i += 2)
				((unsigned long long *)&rg)[atoi(tok[i])] = strtoull(tok[i + 1], 0, 0);
			if (r == 0)
				r = ioctl(fdarg(tok[1]), KVM_SET_REGS, &rg);
			res(r, NULL);
		} else if (!strcmp(c, "getdbg") || !strcmp(c, "setdbg")) {
			/*
			 * getdbg vcpu: KVM_GET_DEBUGREGS (struct prefilled with 0x5a bytes), prints db0-3, dr6, dr7, flags
			 * and reserved[0]. setdbg vcpu flags dr6 dr7 db0: KVM_GET_DEBUGREGS, those fields set, KVM_SET_DEBUGREGS.
			 */
			struct kvm_debugregs d;
			char x[256];
			memset(&d, 0x5a, sizeof d);
			long r = ioctl(fdarg(tok[1]), KVM_GET_DEBUGREGS, &d);
			if (c[0] == 's' && r == 0) {
				d.flags = strtoull(tok[2], 0, 0);
				d.dr6 = strtoull(tok[3], 0, 0);
				d.dr7 = strtoull(tok[4], 0, 0);
				d.db[0] = strtoull(tok[5], 0, 0);
				r = ioctl(fdarg(tok[1]), KVM_SET_DEBUGREGS, &d);
			}
			snprintf(x, sizeof x, "db=%llx,%llx,%llx,%llx dr6=%#llx dr7=%#llx flags=%llx res0=%llx", (unsigned long long)d.db[0],
				 (unsigned long long)d.db[1], (unsigned long long)d.db[2], (unsigned long long)d.db[3],
				 (unsigned long long)d.dr6, (unsigned long long)d.dr7, (unsigned long long)d.flags,
				 (unsigned long long)d.reserved[0]);
			res(r, c[0] == 'g' && r == 0 ? x : NULL);
		} else if (!strcmp(c, "getseg")) {
			/*
			 * getseg vcpu: KVM_GET_SREGS' segments (selector:base:limit:type.present.dpl.db.s.l.g.avl.unusable,
			 * in hex) for cs ds es fs gs ss tr ldt, gdt and idt (base:limit) and cr2.
			 */
			struct kvm_sregs sr;
			char x[1024];
			int o = 0;
			long r = ioctl(fdarg(tok[1]), KVM_GET_SREGS, &sr);
			struct kvm_segment *sg[8] = { &sr.cs, &sr.ds, &sr.es, &sr.fs, &sr.gs, &sr.ss, &sr.tr, &sr.ldt };
			const char *nm[8] = { "cs", "ds", "es", "fs", "gs", "ss", "tr", "ldt" };
			for (int i = 0; i < 8; i++)
				o += snprintf(x + o, sizeof x - o, "%s=%x:%llx:%x:%x.%x.%x.%x.%x.%x.%x.%x.%x ", nm[i], sg[i]->selector,
					      (unsigned long long)sg[i]->base, sg[i]->limit, sg[i]->type, sg[i]->present, sg[i]->dpl,
					      sg[i]->db, sg[i]->s, sg[i]->l, sg[i]->g, sg[i]->avl, sg[i]->unusable);
			snprintf(x + o, sizeof x - o, "gdt=%llx:%x idt=%llx:%x cr2=%llx", (unsigned long long)sr.gdt.base, sr.gdt.limit,
				 (unsigned long long)sr.idt.base, sr.idt.limit, (unsigned long long)sr.cr2);
			res(r, r == 0 ? x : NULL);
		} else if (!strcmp(c, "lapicreg")) {
			/* lapicreg vcpu off: one u32 of KVM_GET_LAPIC's register page, in hex. */
			struct kvm_lapic_state s;
			char x[32];
			long r = ioctl(fdarg(tok[1]), KVM_GET_LAPIC, &s);
			snprintf(x, sizeof x, "%#x", *(uint32_t *)(s.regs + strtoul(tok[2], 0, 0)));
			res(r, r == 0 ? x : NULL);
		} else if (!strcmp(c, "mmiow") || !strcmp(c, "mmior") || !strcmp(c, "piow") || !strcmp(c, "pior")) {
			/*
			 * mmiow vcpu addr len value: stores len bytes (1, 2 or 4) of value at addr;
			 * mmior vcpu addr len: loads len bytes from addr into eax;
			 * piow vcpu port len value: OUT of len bytes of value to port;
			 * pior vcpu port len: IN of len bytes from port into eax;
			 * each then does OUT 0x10 with eax (4 bytes). See guest().
			 */
			uint32_t addr = strtoul(tok[2], 0, 0);
			int len = atoi(tok[3]);
			uint32_t val = n > 4 ? strtoul(tok[4], 0, 0) : 0;
			unsigned char code[32];
			int o = 0;
			if (c[0] == 'p') {
				if (!strcmp(c, "pior")) {
					code[o++] = 0x31; /* xor eax, eax */
					code[o++] = 0xc0;
				} else {
					code[o++] = 0xb8; /* mov eax, imm32 */
					memcpy(code + o, &val, 4);
					o += 4;
				}
				code[o++] = 0x66; /* mov dx, imm16 */
				code[o++] = 0xba;
				memcpy(code + o, &addr, 2);
				o += 2;
				if (len == 2)
					code[o++] = 0x66;
				/* in al/ax/eax, dx (0xec/0xed) or out dx, al/ax/eax (0xee/0xef) */
				code[o++] = (!strcmp(c, "pior") ? 0xec : 0xee) + (len != 1);
			} else if (!strcmp(c, "mmior")) {
				code[o++] = 0x31; /* xor eax, eax */
				code[o++] = 0xc0;
				if (len == 2)
					code[o++] = 0x66;
				code[o++] = len == 1 ? 0x8a : 0x8b; /* mov al/ax/eax, [disp32] */
				code[o++] = 0x05;
				memcpy(code + o, &addr, 4);
				o += 4;
			} else {
				if (len == 2)
					code[o++] = 0x66; /* operand-size prefix */
				code[o++] = len == 1 ? 0xc6 : 0xc7; /* mov r/m, imm */
				code[o++] = 0x05; /* ModRM: [disp32] */
				memcpy(code + o, &addr, 4);
				o += 4;
				memcpy(code + o, &val, len);
				o += len;
			}
			guest(fdarg(tok[1]), code, o);
		} else {
			printf("? unknown command %s\n", c);
		}
	}
	fflush(stdout);
	return 0;
}

// npm start: a tour of the foundation, traced like strace. (Once the KVM and VFIO layers land this
// demo becomes the INTx passthrough VMM.)
import { Host, SyscallError } from 'vfio-kvm-shim';
import { EFD_CLOEXEC, EFD_NONBLOCK } from 'vfio-kvm-shim/include-ts/linux/eventfd';
import { O_RDWR } from 'vfio-kvm-shim/include-ts/linux/fcntl';
import { POLLIN } from 'vfio-kvm-shim/include-ts/linux/poll';
import { FIONREAD } from 'vfio-kvm-shim/include-ts/asm-generic/ioctls';

const host = Host.create();
const stop = host.strace((line) => console.log(`  ${line}`));
const vmm = host.spawn({ name: 'vmm' });

console.log('A VMM-style process: an eventfd as an interrupt line, a pipe as a control channel.');
const irq = vmm.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
const [ctlRead, ctlWrite] = vmm.pipe();
vmm.write(ctlWrite, new TextEncoder().encode('start'));

const pending = new Int32Array(1);
vmm.ioctl(ctlRead, FIONREAD, pending);
console.log(`FIONREAD says ${pending[0]} bytes wait in the pipe.`);

console.log('\nSignal the eventfd twice (a device would), then poll and read it once: the counter coalesces.');
const one = new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]);
vmm.write(irq, one);
vmm.write(irq, one);
const fds = [{ fd: irq, events: POLLIN }];
vmm.poll(fds, 0);
const count = new Uint8Array(8);
vmm.read(irq, count);
console.log(`read() returned count ${count[0]}.`);

console.log('\nErrors carry the kernel errno and say why:');
try {
  vmm.read(irq, count);
} catch (e) {
  if (e instanceof SyscallError) console.log(`  ${e.code} (${e.errno}): ${e.message}`);
}
try {
  vmm.open('/dev/vfio/vfio-does-not-exist', O_RDWR);
} catch (e) {
  if (e instanceof SyscallError) console.log(`  ${e.code} (${e.errno}): ${e.message}`);
}

console.log('\nA blocking read that nothing can ever satisfy fails with EINTR instead of hanging:');
const blocking = vmm.eventfd(0, EFD_CLOEXEC);
try {
  vmm.read(blocking, count);
} catch (e) {
  if (e instanceof SyscallError) console.log(`  ${e.message}`);
}

stop();
console.log(`\nOpen fds (/proc/self/fd): ${vmm.readdir('/proc/self/fd').map((fd) => `${fd} -> ${vmm.readlink(`/proc/self/fd/${fd}`)}`).join(', ')}`);
console.log(`Virtual time: ${host.control.now} ns.`);

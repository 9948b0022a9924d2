#!/usr/bin/perl
# stop_amid_io.pl AREA BACKEND_PID QEMU_PID SECONDS
#
# Freezes the back-end (SIGSTOP) at a moment when the vhost-user inflight area
# marks requests of queue 0 as fetched and not completed, and prints how many:
# the count holds while the back-end is frozen, so a SIGKILL then lands with
# exactly those requests in flight. A request lives a few milliseconds, too
# short for a shell loop to catch; this samples the area about every 0.2 ms.
# Exits 1, the back-end running, if it saw none within SECONDS or QEMU ended.
#
# AREA is QEMU's fd of the area (/proc/QEMU/fd/N), the memfd the back-end handed
# over with GET_INFLIGHT_FD. Layout (vhost-user.rst, "Inflight I/O tracking",
# split ring): QueueRegionSplit { u64 features; u16 version; u16 desc_num;
# u16 last_batch_head; u16 used_idx; DescStateSplit desc[desc_num]; }, each
# DescStateSplit 16 bytes whose first byte is "inflight". Queue 0 is at 0.
use strict;
use warnings;

my ($area, $backend, $qemu, $seconds) = @ARGV;
die "usage: stop_amid_io.pl AREA BACKEND_PID QEMU_PID SECONDS\n" unless defined $seconds;
open(my $fh, '<:raw', $area) or die "stop_amid_io: $area: $!\n";

sub in_flight {
    my $buf;
    sysseek($fh, 0, 0) or return 0;
    (sysread($fh, $buf, 16) // 0) == 16 or return 0;
    my $n = unpack('x10 S', $buf);
    return 0 if $n == 0 || $n > 32768;
    (sysread($fh, $buf, 16 * $n) // 0) == 16 * $n or return 0;
    return scalar grep { $_ == 1 } unpack("(C x15)$n", $buf);
}

my $end = time + $seconds;
while (time < $end && kill(0, $qemu)) {
    if (in_flight() > 0) {
        kill 'STOP', $backend;
        my $n = in_flight();
        if ($n > 0) {
            print "$n\n";
            exit 0;
        }
        kill 'CONT', $backend;
    }
    select(undef, undef, undef, 0.0002);
}
exit 1;

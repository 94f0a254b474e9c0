# An NFS client's writer (python3 in the client guest): it takes a POSIX
# lock on LOCK and keeps it, then appends a numbered record to DATA every
# 0.2 s through one open file, fsyncs it, and only then appends the same
# record to a copy on the guest's tmpfs and the time to a list: the copy
# is what the server must have, the list shows the client's outages.
# It ends after its current write once the stop file exists.
import fcntl, os, sys, time

data, lock, run = sys.argv[1:4]
held = open(lock, "a")
fcntl.lockf(held, fcntl.LOCK_EX)
open(run + ".locked", "w").close()
fd = os.open(data, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
copy = open(run + ".copy", "ab")
times = open(run + ".times", "a")
n = 0
while not os.path.exists(run + ".stop"):
    n += 1
    rec = ("%s record %09d\n" % (os.path.basename(data), n)).encode()
    os.write(fd, rec)
    os.fsync(fd)
    copy.write(rec)
    copy.flush()
    times.write("%.6f\n" % time.time())
    times.flush()
    time.sleep(0.2)
os.close(fd)
copy.close()
open(run + ".done", "w").close()

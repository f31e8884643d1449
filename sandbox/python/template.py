"""envbox's Python sandbox template (zygote): forks fresh sandboxes instead of starting CPython.

The template is a CPython that has started and imported the step runner, and never runs guest code.
It reads requests from the host on fd 3 (`{"id", "uid"}` frames, the length-prefixed JSON of the
runner's channel) and answers nothing: each request forks a child that connects to the host's
socket itself and speaks the runner's channel there. A new sandbox is built like bubblewrap builds
one (see `sandboxCommand` in command.ts), in two forked processes:

- the keeper (the template's child, in the host's pid namespace): drops to the sandbox's uid when
  the template runs as root, forbids new privileges, raises its OOM score to 1000, unshares user,
  mount, pid, ipc, uts, network and cgroup namespaces, maps its uid, forks the sandbox, then only
  waits for it (and kills it if the server dies);
- the sandbox (pid 1 of the new pid namespace): its own session, a root of tmpfs with /usr bound
  read-only, a minimal /dev, size-capped tmpfs /tmp, /workspace and /dev/shm, a fresh /proc where
  the host allows one, the runner at /envbox/runner.py; pivots into it, drops every capability,
  closes every inherited fd but its channel, and runs the runner's loop, which sets the rlimits and
  the audit hook before the first step.

Sandboxes forked from one template share its memory layout (ASLR offsets) and its str hash seed;
nothing of another episode is ever in the template.
"""

import ctypes
import errno
import fcntl
import gc
import json
import os
import select
import signal
import socket
import struct
import sys
import types

BOOT = {}

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
NAMESPACES = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET | CLONE_NEWCGROUP

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_SLAVE = 1 << 19
MS_RELATIME = 1 << 21
MNT_DETACH = 2

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
CAP_LAST = 63
LINUX_CAPABILITY_VERSION_3 = 0x20080522

SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 1

SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}.get(os.uname().machine)

DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
DEV_LINKS = (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
             ("stderr", "/proc/self/fd/2"), ("core", "/proc/kcore"), ("ptmx", "pts/ptmx"))
PROC_COVERED = ("sys", "sysrq-trigger", "irq", "bus")
WORKDIR = "/workspace"
RUNNER_IN_SANDBOX = "/envbox/runner.py"
# Where the new root is assembled: a tmpfs over the host's /tmp, in the sandbox's own mount namespace.
STAGE = "/tmp"


class SetupError(Exception):
    """A step of building the sandbox failed: reported to the host, never to a guest."""


class _Libc:
    """The few system calls Python 3.11 has no wrapper for. Dropped before any guest code runs."""

    def __init__(self):
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.libc.mount.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p)
        self.libc.umount2.argtypes = (ctypes.c_char_p, ctypes.c_int)
        self.libc.syscall.restype = ctypes.c_long
        self.libc.prctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong)
        # Every function resolved now, in the template: created before its gc.freeze(), none is
        # listed by gc.get_objects() in a sandbox once the handle is dropped (see _forget_setup).
        for name in ("unshare", "capset"):
            getattr(self.libc, name)

    def check(self, result, what):
        if result < 0:
            code = ctypes.get_errno()
            raise SetupError("%s: %s" % (what, os.strerror(code)))
        return result

    def unshare(self, flags):
        self.check(self.libc.unshare(flags), "unshare")

    def mount(self, source, target, fstype, flags, data=None):
        enc = lambda s: None if s is None else s.encode()  # noqa: E731
        self.check(self.libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)), "mount %s" % target)

    def umount(self, target):
        self.check(self.libc.umount2(target.encode(), MNT_DETACH), "umount %s" % target)

    def pivot_root(self, new, old):
        if SYS_PIVOT_ROOT is None:
            raise SetupError("pivot_root: unknown machine %s" % os.uname().machine)
        self.check(self.libc.syscall(SYS_PIVOT_ROOT, new.encode(), old.encode()), "pivot_root")

    def prctl(self, option, arg=0):
        return self.check(self.libc.prctl(option, arg, 0, 0, 0), "prctl %d" % option)

    def drop_capabilities(self):
        for cap in range(CAP_LAST + 1):
            if self.libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0:
                if ctypes.get_errno() == errno.EINVAL:
                    break  # past the kernel's last capability
                raise SetupError("dropping capability %d: %s" % (cap, os.strerror(ctypes.get_errno())))
        self.libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
        header = struct.pack("Ii", LINUX_CAPABILITY_VERSION_3, 0)
        data = bytes(24)  # two empty {effective, permitted, inheritable} sets
        self.check(self.libc.capset(header, data), "capset")


def _write(path, text):
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _mount_flags(path):
    """The flags a read-only bind remount of `path` must keep (locked by the kernel in a user namespace)."""
    flags = os.statvfs(path).f_flag
    kept = MS_NOSUID | MS_NODEV | MS_RDONLY
    for st, ms in ((os.ST_NOEXEC, MS_NOEXEC), (os.ST_NOATIME, MS_NOATIME), (os.ST_NODIRATIME, MS_NODIRATIME), (os.ST_RELATIME, MS_RELATIME)):
        if flags & st:
            kept |= ms
    return kept


def _bind_read_only(libc, source, target):
    libc.mount(source, target, None, MS_BIND | MS_REC)
    libc.mount(None, target, None, MS_BIND | MS_REMOUNT | _mount_flags(target))


def _touch(path):
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o644))


def build_root(libc, config, runner_source):
    """Assemble the sandbox's root under STAGE and pivot into it (bubblewrap's layout, see command.ts)."""
    libc.mount(None, "/", None, MS_REC | MS_SLAVE)
    libc.mount("tmpfs", STAGE, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")
    root = STAGE
    for name in ("usr", "dev", "tmp", "workspace", "envbox"):
        os.mkdir(root + "/" + name, 0o755)
    for link, target in (("lib", "usr/lib"), ("lib64", "usr/lib64"), ("bin", "usr/bin")):
        os.symlink(target, root + "/" + link)
    _bind_read_only(libc, "/usr", root + "/usr")
    if config["proc_mount"]:
        os.mkdir(root + "/proc", 0o755)
        libc.mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        for name in PROC_COVERED:
            path = root + "/proc/" + name
            if os.access(path, os.W_OK):
                _bind_read_only(libc, path, path)
    dev = root + "/dev"
    libc.mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")
    for name in DEVICES:
        _touch(dev + "/" + name)
        libc.mount("/dev/" + name, dev + "/" + name, None, MS_BIND | MS_REC)
    for name, target in DEV_LINKS:
        os.symlink(target, dev + "/" + name)
    os.mkdir(dev + "/shm", 0o755)
    os.mkdir(dev + "/pts", 0o755)
    libc.mount("devpts", dev + "/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=620")
    size = "size=%d,mode=0755" % config["tmp_bytes"]
    for path in (dev + "/shm", root + "/tmp", root + WORKDIR):
        libc.mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, size)
    # The runner as data (bubblewrap's --ro-bind-data): a read-only file mount, no host path behind it.
    staged = root + "/envbox/.runner"
    with open(staged, "w") as handle:
        handle.write(runner_source)
    _touch(root + RUNNER_IN_SANDBOX)
    _bind_read_only(libc, staged, root + RUNNER_IN_SANDBOX)
    os.unlink(staged)
    os.chdir(root)
    libc.pivot_root(".", ".")
    libc.umount(".")
    os.chdir("/")
    libc.mount(None, "/dev", None, MS_BIND | MS_REMOUNT | _mount_flags("/dev"))
    libc.mount(None, "/", None, MS_BIND | MS_REMOUNT | _mount_flags("/"))


def loopback_up():
    """Bring up `lo` in the new network namespace, as bubblewrap does: the guest's own, reaching nothing else."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        request = struct.pack("16sh22x", b"lo", 0)
        flags = struct.unpack("16sh22x", fcntl.ioctl(probe, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(probe, SIOCSIFFLAGS, struct.pack("16sh22x", b"lo", flags | IFF_UP))


def _rewrite_command_line(cmdline):
    """Make /proc/self/cmdline a cold sandbox's (`python3 -I -B /envbox/runner.py <config>`): the
    template's was made as long (a filler argument), so the bytes are overwritten in place."""
    with open("/proc/self/stat", "rb") as handle:
        fields = handle.read().rsplit(b")", 1)[1].split()
    start, end = int(fields[45]), int(fields[46])  # arg_start, arg_end: fields 48 and 49
    data = cmdline.encode()
    if len(data) != end - start:
        return
    with open("/proc/self/mem", "r+b", buffering=0) as memory:
        memory.seek(start)
        memory.write(data)


def _send(fd, message):
    body = json.dumps(message).encode("ascii")
    data = memoryview(len(body).to_bytes(4, "big") + body)
    while data:
        data = data[os.write(fd, data):]


def sandbox_main(libc, channel, request, config, runner):
    """Pid 1 of the new namespaces: build the root, drop everything, then the runner's loop."""
    try:
        os.setsid()
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        _rewrite_command_line(config["cmdline"])
        build_root(libc, config, runner["source"])
        socket.sethostname("sandbox")
        loopback_up()
        null = os.open("/dev/null", os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.close(null)
        os.dup2(channel, 3)
        os.dup2(channel, 4)
        os.closerange(5, os.sysconf("SC_OPEN_MAX"))
        os.chdir(WORKDIR)
        # A cold sandbox's environment: bubblewrap's HOME and PWD, and CPython's own LC_CTYPE coercion.
        ctype = os.environ.get("LC_CTYPE")
        os.environ.clear()
        os.environ["HOME"] = WORKDIR
        if ctype is not None:
            os.environ["LC_CTYPE"] = ctype
        os.environ["PWD"] = WORKDIR
        libc.drop_capabilities()
    except BaseException as error:  # noqa: B036 - whatever failed is the host's to know
        try:
            _send(channel, {"id": request["id"], "error": "%s: %s" % (type(error).__name__, error)})
        finally:
            os._exit(70)
    _forget_setup()
    module = runner["module"]
    sys.modules["__main__"] = module
    sys.argv[:] = [RUNNER_IN_SANDBOX, runner["config"]]
    raise _Become(module)


def _forget_setup():
    """No ctypes object outlives the setup: a guest that found one could call libc without an audit
    event. The module and the template's libc handle become unreachable; created before the
    template's gc.freeze(), they are in the permanent generation, which gc.get_objects() does not list."""
    global _LIBC
    _LIBC = None
    BOOT.clear()
    globals().pop("ctypes", None)
    for name in [name for name in sys.modules if name == "ctypes" or name.startswith("ctypes.") or name == "_ctypes"]:
        del sys.modules[name]


def keeper_main(libc, requests, replies, request, config, runner):
    """The template's child: become the sandbox's uid and namespaces, fork pid 1, and wait for it.

    It tells the host the sandbox's pid and, once it is gone, how it ended, on the template's reply
    channel, which the sandbox never holds: a guest cannot forge either.
    """
    os.close(requests)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    channel = -1
    try:
        channel_socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        channel_socket.connect(config["socket"])
        channel = channel_socket.detach()
        _send(channel, {"id": request["id"]})
        _write("/proc/self/oom_score_adj", str(config["oom_score_adj"]))
        uid = request.get("uid")
        if uid is not None:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            # A uid change leaves a process undumpable, its /proc files root's: as after an exec
            # (which is what the cold path does next), it is its own again.
            libc.prctl(PR_SET_DUMPABLE, 1)
        libc.prctl(PR_SET_NO_NEW_PRIVS, 1)
        outer_uid, outer_gid = os.getuid(), os.getgid()
        libc.unshare(NAMESPACES)
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", "%d %d 1" % (outer_uid, outer_uid))
        _write("/proc/self/gid_map", "%d %d 1" % (outer_gid, outer_gid))
        pid = os.fork()
    except BaseException as error:  # noqa: B036
        _send(replies, {"id": request["id"], "error": "%s: %s" % (type(error).__name__, error)})
        os._exit(70)
    if pid == 0:
        os.close(replies)
        sandbox_main(libc, channel, request, config, runner)
    _send(replies, {"id": request["id"], "pid": pid})
    # The capabilities unshare gave it (in the sandbox's user namespace) were for the sandbox's
    # setup, which the child does: the keeper, which only waits, keeps none.
    try:
        libc.drop_capabilities()
    except SetupError:
        os.kill(pid, signal.SIGKILL)
        raise
    child = os.pidfd_open(pid)
    watch = select.poll()
    watch.register(child, select.POLLIN)
    watch.register(config["server_fd"], select.POLLIN)
    while True:
        ready = [fd for fd, _ in watch.poll()]
        if config["server_fd"] in ready:
            # The server is gone: so is its episode.
            os.kill(pid, signal.SIGKILL)
        if child in ready:
            break
    _, status = os.waitpid(pid, 0)
    ended = {"id": request["id"], "exit": os.waitstatus_to_exitcode(status)}
    _send(replies, ended)
    # The channel closes only now, after the exit was told: the host reads the two in that order.
    os._exit(0)


def _read_exact(fd, size):
    data = b""
    while len(data) < size:
        chunk = os.read(fd, size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


_LIBC = None


def main():
    global _LIBC
    header = _read_exact(3, 4)
    body = None if header is None else _read_exact(3, int.from_bytes(header, "big"))
    if body is None:
        return
    BOOT.update(json.loads(body))
    config = BOOT["config"]
    runner_source = BOOT["runner"]
    module = types.ModuleType("__envbox_runner__")
    module.__file__ = RUNNER_IN_SANDBOX
    exec(compile(runner_source, RUNNER_IN_SANDBOX, "exec"), module.__dict__)  # noqa: S102 - our own runner
    module.__name__ = "__main__"  # as in a sandbox started cold, once its loop is not started here
    runner = {"module": module, "source": runner_source, "config": config["runner_argument"]}
    import math  # noqa: F401, PLC0415 - imported once here, not per sandbox
    import resource  # noqa: F401, PLC0415
    _LIBC = _Libc()
    # The server's own pid, watched by every keeper: its death ends every episode.
    config["server_fd"] = os.pidfd_open(os.getppid())
    libc = _LIBC
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # keepers are reaped by the kernel
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    requests, replies = 3, 4
    _send(replies, {"ready": True, "python": "%d.%d.%d" % sys.version_info[:3]})
    gc.freeze()  # what exists now is shared by every child, untouched by their collections
    while True:
        header = _read_exact(requests, 4)
        if header is None:
            return
        body = _read_exact(requests, int.from_bytes(header, "big"))
        if body is None:
            return
        request = json.loads(body)
        try:
            pid = os.fork()
        except OSError as error:
            _send(replies, {"id": request["id"], "error": "fork: %s" % error})
            continue
        if pid == 0:
            try:
                keeper_main(libc, requests, replies, request, config, runner)
            except _Become:
                raise
            except BaseException:  # noqa: B036
                os._exit(70)
            os._exit(0)


class _Become(BaseException):  # noqa: N818 - a control transfer, not an error
    """Raised in a finished sandbox to unwind the template's frames (and the setup's locals) before
    the runner's loop starts at the top of the stack."""

    def __init__(self, module):
        super().__init__()
        self.module = module


try:
    main()
except _Become as become:
    _RUNNER = become.module
else:
    _RUNNER = None
if _RUNNER is not None:
    gc.collect()  # the setup's young garbage; what the template froze stays frozen and unreachable
    _RUNNER.main()
    os._exit(0)

"""envbox's Python step runner: one per sandbox, shared by every Python backend.

It speaks to the host over a private pair of pipe fds (moved away from 3 and 4 at start, so user
code writing to fd 1 or closing stdin cannot touch the channel), one length-prefixed JSON frame per
message: the host sends {"code", "timeout_s", "max_output_bytes", "pristine_builtins"?}, the runner answers
{"stdout", "stderr", "exit_code", "result", "truncated", "interrupted"}. State (the globals of the
episode) persists from step to step. Nothing here trusts the code it runs: this is a convenience
layer, the walls are the process, the namespaces and the rlimits around it.
"""

import ast
import builtins
import io
import json
import linecache
import os
import signal
import sys
import traceback

# Bound now: user code may monkeypatch the modules later; the channel keeps working for its owner.
_loads = json.loads
_dumps = json.dumps
_read = os.read
_write = os.write
_TracebackException = traceback.TracebackException
_StackSummary = traceback.StackSummary
_RUNNER_FILE = __file__
_TextIOWrapper = io.TextIOWrapper
_RawIOBase = io.RawIOBase
# The builtins a step goes through, bound before any step runs: code that rebinds builtins.compile
# (or exec, eval, repr) must not see the next step's source nor change how it runs (the judge
# sends a nonce in a later step's code).
_compile = compile
_exec = exec
_eval = eval
_repr = repr
_PyCF_ONLY_AST = ast.PyCF_ONLY_AST
# The builtins before any step ran: a step sent with "pristine_builtins" (the judge's test steps)
# gets a fresh copy, whatever earlier steps rebound in the builtins module.
_PRISTINE_BUILTINS = dict(builtins.__dict__)
_dict = dict

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_TIMEOUT = 124
STEP_PREFIX = "<step "


class _Channel:
    def __init__(self, read_fd, write_fd):
        self.read_fd = read_fd
        self.write_fd = write_fd

    def _read_exact(self, size):
        chunks = []
        while size > 0:
            chunk = _read(self.read_fd, min(size, 1 << 20))
            if not chunk:
                return None
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def receive(self):
        header = self._read_exact(4)
        if header is None:
            return None
        body = self._read_exact(int.from_bytes(header, "big"))
        return None if body is None else _loads(body)

    def send(self, message):
        body = _dumps(message).encode("ascii")
        data = memoryview(len(body).to_bytes(4, "big") + body)
        while data:
            data = data[_write(self.write_fd, data):]


class _Capture(_RawIOBase):
    """A write-only byte sink keeping the first `limit` bytes of a stream."""

    def __init__(self, limit):
        super().__init__()
        self.limit = limit
        self.data = bytearray()
        self.truncated = False

    def writable(self):
        return True

    def write(self, chunk):
        size = len(chunk)
        room = self.limit - len(self.data)
        if room > 0:
            self.data += bytes(chunk[:room])
        if size > room:
            self.truncated = True
        return size

    def text(self):
        # Raw bytes and lone surrogates become U+FFFD: output is never an error.
        decoded = self.data.decode("utf-8", "replace")
        if self.truncated:
            decoded += "\n[envbox: output truncated at %d bytes]\n" % self.limit
        return decoded


def _stream(capture):
    return _TextIOWrapper(capture, encoding="utf-8", errors="surrogatepass", write_through=True)


class _Interrupt:
    in_step = False
    interrupted = False


def _on_sigint(_signum, _frame):
    # Only a running step is interrupted; a late SIGINT between steps is dropped.
    if _Interrupt.in_step:
        _Interrupt.interrupted = True
        raise KeyboardInterrupt


# Frames of the interpreter's own machinery (Pyodide's), hidden like the runner's.
_HIDDEN_FRAME_PREFIXES = []


def _hidden_frame(filename):
    return filename == _RUNNER_FILE or any(filename.startswith(prefix) for prefix in _HIDDEN_FRAME_PREFIXES)


def _without_runner(summary, seen):
    """Drop this runner's frames (the step driver, the audit hook, the interrupt handler) from a
    TracebackException and the exceptions chained to it."""
    if summary is None or id(summary) in seen:
        return
    seen.add(id(summary))
    summary.stack = _StackSummary.from_list([frame for frame in summary.stack if not _hidden_frame(frame.filename)])
    _without_runner(summary.__cause__, seen)
    _without_runner(summary.__context__, seen)


def _user_traceback(error):
    """The traceback of `error` as the user's code sees it: `File "<step 3>", line 2, in f`."""
    summary = _TracebackException(type(error), error, error.__traceback__)
    _without_runner(summary, set())
    return "".join(summary.format())


def _exit_code(error, stderr):
    code = error.code
    if code is None:
        return EXIT_OK
    if isinstance(code, bool):
        return int(code)
    if isinstance(code, int):
        return code
    print(code, file=stderr)
    return EXIT_ERROR


def run_step(number, code, namespace, max_output_bytes, timeout_s):
    out = _Capture(max_output_bytes)
    err = _Capture(max_output_bytes)
    stdout, stderr = _stream(out), _stream(err)
    filename = "%s%d>" % (STEP_PREFIX, number)
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    exit_code = EXIT_OK
    result = None
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = stdout, stderr
    signal.signal(signal.SIGINT, _on_sigint)
    _Interrupt.interrupted = False
    _Interrupt.in_step = True
    try:
        try:
            tree = _compile(code, filename, "exec", _PyCF_ONLY_AST)
            last = None
            if tree.body and isinstance(tree.body[-1], ast.Expr):
                last = ast.Expression(tree.body.pop().value)
            _exec(_compile(tree, filename, "exec"), namespace)
            if last is not None:
                value = _eval(_compile(last, filename, "eval"), namespace)
                if value is not None:
                    result = _repr(value)
                    if len(result) > max_output_bytes:
                        result = result[:max_output_bytes] + "...[envbox: result truncated]"
        except SystemExit as error:
            _Interrupt.in_step = False
            exit_code = _exit_code(error, stderr)
        except BaseException as error:  # noqa: B036 - everything the code raises is an observation
            _Interrupt.in_step = False
            exit_code = EXIT_ERROR
            if _Wasm.active and isinstance(error, ModuleNotFoundError) and error.name and not _hidden(error.name):
                top = error.name.partition(".")[0]
                error.add_note(_WASM_STDLIB_NOTE % top if top in sys.stdlib_module_names else _WASM_PACKAGES_NOTE)
            stderr.write(_user_traceback(error))
    except BaseException as error:  # an interrupt landed while the failure was being reported
        _Interrupt.in_step = False
        exit_code = EXIT_ERROR
        err.write(("%s: %s\n" % (type(error).__name__, error)).encode("utf-8", "replace"))
    finally:
        _Interrupt.in_step = False
        sys.stdout, sys.stderr = saved
    for stream in (stdout, stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: B036 - a stream the code broke still gives what it holds
            pass
    if _Interrupt.interrupted:
        exit_code = EXIT_TIMEOUT
        err.data += (
            "TimeoutError: the step ran past its limit of %g s and was interrupted; the state is kept.\n" % timeout_s
        ).encode("utf-8")
    return {
        "stdout": out.text(),
        "stderr": err.text(),
        "exit_code": exit_code,
        "result": result,
        "truncated": out.truncated or err.truncated,
        "interrupted": _Interrupt.interrupted,
    }


_AF_UNIX = 1  # socket.AF_UNIX on Linux and Emscripten, without importing socket here
_DENIED_ALWAYS = ("socket.", "ctypes.")
_DENIED_PROCESS = ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty", "pty.spawn")


def _install_audit_hook(allow_subprocess):
    denied = _DENIED_ALWAYS if allow_subprocess else _DENIED_ALWAYS + _DENIED_PROCESS

    def hook(event, args):
        # A local socket pair (asyncio's self-pipe) reaches nothing; every other socket is refused.
        if event.startswith(denied) and not (event == "socket.__new__" and args[1] == _AF_UNIX):
            raise PermissionError("envbox: %s is not allowed in this sandbox" % event)

    sys.addaudithook(hook)


def _apply_limits(limits):
    if not limits:  # set from outside (Pyodide has no resource module)
        return
    import math  # noqa: PLC0415
    import resource  # noqa: PLC0415 - only here, before user code

    names = {
        "address_space_bytes": resource.RLIMIT_AS,
        "file_size_bytes": resource.RLIMIT_FSIZE,
        "open_files": resource.RLIMIT_NOFILE,
        "processes": resource.RLIMIT_NPROC,
        "cpu_seconds": resource.RLIMIT_CPU,
    }
    for name, value in limits.items():
        if value is None:
            continue
        if name == "cpu_seconds":
            # The episode's CPU budget starts now: start-up (the interpreter, this runner, and the
            # exec()s before them, which RLIMIT_CPU counts too) must not spend it, or a small budget
            # on a slow machine kills the sandbox before its first step.
            usage = resource.getrusage(resource.RUSAGE_SELF)
            value += math.ceil(usage.ru_utime + usage.ru_stime)
        resource.setrlimit(names[name], (value, value))
    # Writing past RLIMIT_FSIZE raises OSError(EFBIG) instead of killing the episode.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


# The JavaScript bridges of Pyodide: unreachable by import from steps. This is a convenience, not
# a wall (`gc.get_objects()` still finds JS proxies); the walls are the Node process around it.
_WASM_HIDDEN_MODULES = ("js", "pyodide_js", "pyodide", "_pyodide", "micropip")


class _Wasm:
    active = False


_WASM_PACKAGES_NOTE = (
    "envbox: the pyodide backend has the Python standard library only; "
    "third-party packages need the process backend (envbox serve --python-backend process)."
)


_WASM_STDLIB_NOTE = (
    "envbox: %s is part of CPython's standard library but not of Pyodide's; "
    "the process backend has it (envbox serve --python-backend process)."
)


def _hidden(name):
    return any(name == hidden or name.startswith(hidden + ".") for hidden in _WASM_HIDDEN_MODULES)


def _prepare_wasm():
    """Make Pyodide behave like the process backend where it can."""
    _Wasm.active = True
    import time  # noqa: PLC0415 - only on Pyodide

    # Pyodide wraps time.sleep and asyncio.run around its own event loop, which needs WebAssembly
    # stack switching (absent on Node 20): back to CPython's. Its time.sleep blocks in C and ignores
    # the interrupt buffer: sleep in short slices so the step's deadline interrupts it like any
    # other Python code.
    webloop = sys.modules.get("pyodide.webloop")
    _sleep = getattr(webloop, "_orig_sleep", time.sleep)
    _monotonic = time.monotonic

    def sleep(seconds):
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        end = _monotonic() + seconds
        while True:
            left = end - _monotonic()
            if left <= 0:
                return
            _sleep(min(left, 0.01))

    sleep.__doc__ = _sleep.__doc__
    time.sleep = sleep
    _install_wasm_event_loop(sleep)
    _audit_popen_first()
    stdlib = os.path.dirname(os.__file__)
    _HIDDEN_FRAME_PREFIXES.extend([stdlib + "/pyodide/", stdlib + "/_pyodide/"])
    # The process backend's environment: only HOME (Pyodide's defaults name its own machinery).
    os.environ.clear()
    os.environ["HOME"] = "/workspace"
    for name in [name for name in sys.modules if _hidden(name)]:
        del sys.modules[name]

    def hook(event, args):
        if event == "import" and _hidden(args[0]):
            raise ModuleNotFoundError("No module named %r" % args[0], name=args[0])

    sys.addaudithook(hook)


def _audit_popen_first():
    """Pyodide's subprocess refuses before its audit event; raise the event first, so starting a
    process fails with the same PermissionError as in the process backend."""
    import subprocess  # noqa: PLC0415 - only on Pyodide

    popen_init = subprocess.Popen.__init__

    def __init__(self, args, *rest, **options):
        sys.audit("subprocess.Popen", options.get("executable"), args, options.get("cwd"), options.get("env"))
        popen_init(self, args, *rest, **options)

    subprocess.Popen.__init__ = __init__


def _install_wasm_event_loop(sleep):
    """`asyncio.run` as in CPython. Pyodide's own loop needs WebAssembly stack switching to run a
    coroutine to completion, which Node 20 lacks; this one runs timers and callbacks, sleeping (in
    interruptible slices) until the next is due. There are no file descriptors to wait on."""
    import asyncio  # noqa: PLC0415 - only on Pyodide
    import selectors  # noqa: PLC0415

    class _SleepSelector(selectors.BaseSelector):
        def __init__(self):
            self._map = {}

        def register(self, fileobj, events, data=None):
            raise OSError("envbox: the pyodide backend has no file descriptors to wait on")

        def unregister(self, fileobj):
            raise KeyError(fileobj)

        def select(self, timeout=None):
            sleep(1.0 if timeout is None else max(timeout, 0))
            return []

        def close(self):
            pass

        def get_map(self):
            return self._map

    class EventLoop(asyncio.BaseEventLoop):
        def __init__(self):
            super().__init__()
            self._selector = _SleepSelector()

        def _process_events(self, event_list):
            pass

        def _write_to_self(self):
            pass

    class EventLoopPolicy(asyncio.DefaultEventLoopPolicy):
        _loop_factory = EventLoop

    import warnings  # noqa: PLC0415

    asyncio.run = getattr(sys.modules.get("pyodide.webloop"), "_orig_run", asyncio.run)
    # Pyodide marks its loop as always running; CPython code expects none between steps.
    asyncio.events._set_running_loop(None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        asyncio.set_event_loop_policy(EventLoopPolicy())


class Session:
    """One episode: its globals persist from step to step."""

    def __init__(self):
        self.namespace = {"__name__": "__main__", "__builtins__": builtins}
        self.number = 0

    def step(self, request):
        self.number += 1
        if request.get("pristine_builtins", False):
            self.namespace["__builtins__"] = _dict(_PRISTINE_BUILTINS)
        return run_step(self.number, request["code"], self.namespace, request["max_output_bytes"], request["timeout_s"])

    def step_json(self, text):
        """`step` for hosts that hand over JSON text (the Pyodide guest)."""
        return _dumps(self.step(_loads(text)))


def start(config):
    """Prepare the interpreter for untrusted steps (limits, interrupts, audit hook); a new Session."""
    _apply_limits(config.get("limits", {}))
    signal.signal(signal.SIGINT, _on_sigint)
    if config.get("wasm", False):
        _prepare_wasm()
    _install_audit_hook(config["allow_subprocess"])
    return Session()


def main():
    config = _loads(sys.argv[1])
    read_fd, write_fd = os.dup(3), os.dup(4)  # dup()ed fds are not inherited by children
    os.close(3)
    os.close(4)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    channel = _Channel(read_fd, write_fd)
    del sys.argv[1:]
    session = start(config)
    channel.send({"ready": True, "python": "%d.%d.%d" % sys.version_info[:3]})
    while True:
        request = channel.receive()
        if request is None:
            return
        channel.send(session.step(request))


if __name__ == "__main__":
    main()

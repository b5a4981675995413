# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""radio's hot loops in C, calling libzmq itself: framing, sending and reading frames."""

# This is the C twin of the paths radio/publisher.py and radio/sockets.py take with
# pyzmq: it writes a DATA frame exactly as radio.core.wire's `frame_prefix` +
# `pack_tail` + payload does (tests/test_hot.py checks it against the protocol
# vectors) and reads whole messages as `sockets.read_messages` does. Decisions stay
# in the cores: a send this code cannot make the cheap way (a batching or a
# last-value session, a payload past the small limit, a due service pass, anything
# not plainly bytes and a float) goes to the Python path, untouched.
#
# No header and no link: libzmq is the copy pyzmq has already loaded (its own, in
# pyzmq.libs, or the system's), found in this process's memory map, and its few
# functions are reached through pointers `bind` takes from ctypes. A socket is
# reached through pyzmq's public ``Socket.underlying``.

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.dict cimport PyDict_GetItem
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from cpython.exc cimport PyErr_CheckSignals
from cpython.mem cimport PyMem_Free, PyMem_Realloc
from cpython.object cimport PyObject, PyTypeObject
from cpython.ref cimport Py_DECREF, Py_INCREF

cdef extern from "Python.h":
    void PyObject_GC_UnTrack(object)

cdef extern from "<semaphore.h>" nogil:
    ctypedef struct sem_t:
        pass
    int sem_init(sem_t *sem, int pshared, unsigned int value)
    int sem_destroy(sem_t *sem)
    int sem_post(sem_t *sem)
    int sem_trywait(sem_t *sem)
from cpython.tuple cimport PyTuple_Check, PyTuple_GET_ITEM, PyTuple_GET_SIZE, PyTuple_SET_ITEM
from libc.stdint cimport uint64_t, uintptr_t
from libc.string cimport memcmp, memcpy

cdef extern from *:
    """
    #include <errno.h>
    #include <semaphore.h>
    #include <time.h>
    #if defined(_MSC_VER)
    #error "radio's hot loops are built with GCC or Clang"
    #endif
    typedef struct radio_msg_t {
        unsigned char _[64] __attribute__((aligned(sizeof(void *))));
    } radio_msg_t;
    typedef int (*radio_msg_init_t)(radio_msg_t *);
    typedef int (*radio_msg_init_size_t)(radio_msg_t *, size_t);
    typedef int (*radio_msg_io_t)(radio_msg_t *, void *, int);
    typedef int (*radio_msg_close_t)(radio_msg_t *);
    typedef void *(*radio_msg_data_t)(radio_msg_t *);
    typedef size_t (*radio_msg_size_t)(const radio_msg_t *);
    typedef int (*radio_msg_more_t)(const radio_msg_t *);
    typedef int (*radio_errno_t)(void);
    typedef struct radio_pollitem_t {
        void *socket;
        int fd;
        short events;
        short revents;
    } radio_pollitem_t;
    typedef int (*radio_poll_t)(radio_pollitem_t *, int, long);

    static radio_msg_init_t radio_msg_init;
    static radio_msg_init_size_t radio_msg_init_size;
    static radio_msg_io_t radio_msg_send;
    static radio_msg_io_t radio_msg_recv;
    static radio_msg_close_t radio_msg_close;
    static radio_msg_data_t radio_msg_data;
    static radio_msg_size_t radio_msg_size;
    static radio_msg_more_t radio_msg_more;
    static radio_errno_t radio_errno;
    static radio_poll_t radio_poll;

    static double radio_monotonic(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
    }

    /* Take *sem*, waiting until *deadline* on the monotonic clock (negative: for as long
       as it takes): 0 taken, 1 timed out, 2 interrupted by a signal. */
    static int radio_sem_wait(sem_t *sem, double deadline) {
        struct timespec until;
        int rc;
        if (deadline < 0) {
            rc = sem_wait(sem);
        } else {
            until.tv_sec = (time_t)deadline;
            until.tv_nsec = (long)((deadline - (double)until.tv_sec) * 1e9);
            if (until.tv_nsec > 999999999L) until.tv_nsec = 999999999L;
            rc = sem_clockwait(sem, CLOCK_MONOTONIC, &until);
        }
        if (rc == 0) return 0;
        return errno == EINTR ? 2 : 1;
    }

    static void radio_put_u64(char *out, unsigned long long value) {
        int i;
        for (i = 7; i >= 0; i--) { out[i] = (char)(value & 0xff); value >>= 8; }
    }

    static int radio_is_getset(PyObject *descr, int settable) {
        PyGetSetDef *def;
        if (!Py_IS_TYPE(descr, &PyGetSetDescr_Type)) return 0;
        def = ((PyGetSetDescrObject *)descr)->d_getset;
        return def->get != NULL && (!settable || def->set != NULL);
    }

    static PyObject *radio_getset_get(PyObject *descr, PyObject *obj) {
        PyGetSetDef *def = ((PyGetSetDescrObject *)descr)->d_getset;
        return def->get(obj, def->closure);
    }

    static int radio_getset_set(PyObject *descr, PyObject *obj, PyObject *value) {
        PyGetSetDef *def = ((PyGetSetDescrObject *)descr)->d_getset;
        return def->set(obj, value, def->closure);
    }

    static PyObject *radio_alloc_tuple(PyTypeObject *type, Py_ssize_t size) {
        return type->tp_alloc(type, size);
    }

    static unsigned long long radio_get_u64(const char *in) {
        unsigned long long value = 0;
        int i;
        for (i = 0; i < 8; i++) value = (value << 8) | (unsigned char)in[i];
        return value;
    }

    static void radio_put_u32(char *out, unsigned long value) {
        out[0] = (char)((value >> 24) & 0xff); out[1] = (char)((value >> 16) & 0xff);
        out[2] = (char)((value >> 8) & 0xff); out[3] = (char)(value & 0xff);
    }

    static unsigned long radio_get_u32(const char *in) {
        return ((unsigned long)(unsigned char)in[0] << 24) | ((unsigned long)(unsigned char)in[1] << 16)
             | ((unsigned long)(unsigned char)in[2] << 8) | (unsigned long)(unsigned char)in[3];
    }

    static double radio_get_f64(const char *in) {
        unsigned long long bits = radio_get_u64(in);
        double value;
        memcpy(&value, &bits, 8);
        return value;
    }

    static void radio_put_f64(char *out, double value) {
        unsigned long long bits;
        memcpy(&bits, &value, 8);
        radio_put_u64(out, bits);
    }
    """
    ctypedef struct radio_msg_t:
        pass
    ctypedef int (*radio_msg_init_t)(radio_msg_t *) noexcept nogil
    ctypedef int (*radio_msg_init_size_t)(radio_msg_t *, size_t) noexcept nogil
    ctypedef int (*radio_msg_io_t)(radio_msg_t *, void *, int) noexcept nogil
    ctypedef int (*radio_msg_close_t)(radio_msg_t *) noexcept nogil
    ctypedef void *(*radio_msg_data_t)(radio_msg_t *) noexcept nogil
    ctypedef size_t (*radio_msg_size_t)(const radio_msg_t *) noexcept nogil
    ctypedef int (*radio_msg_more_t)(const radio_msg_t *) noexcept nogil
    ctypedef int (*radio_errno_t)() noexcept nogil
    ctypedef struct radio_pollitem_t:
        void *socket
        int fd
        short events
        short revents
    ctypedef int (*radio_poll_t)(radio_pollitem_t *, int, long) noexcept nogil
    radio_msg_init_t radio_msg_init
    radio_msg_init_size_t radio_msg_init_size
    radio_msg_io_t radio_msg_send
    radio_msg_io_t radio_msg_recv
    radio_msg_close_t radio_msg_close
    radio_msg_data_t radio_msg_data
    radio_msg_size_t radio_msg_size
    radio_msg_more_t radio_msg_more
    radio_errno_t radio_errno
    radio_poll_t radio_poll
    double radio_monotonic() noexcept nogil
    int radio_sem_wait(sem_t *sem, double deadline) noexcept nogil
    void radio_put_u64(char *out, unsigned long long value) noexcept nogil
    void radio_put_f64(char *out, double value) noexcept nogil
    unsigned long long radio_get_u64(const char *src) noexcept nogil
    double radio_get_f64(const char *src) noexcept nogil
    unsigned long radio_get_u32(const char *src) noexcept nogil
    void radio_put_u32(char *out, unsigned long value) noexcept nogil
    PyObject *radio_alloc_tuple(PyTypeObject *type, Py_ssize_t size)
    bint radio_is_getset(object descr, int settable)
    object radio_getset_get(object descr, object obj)
    int radio_getset_set(object descr, object obj, object value) except -1

import zmq

from radio.core.wire import HEADER as _HEADER, MAX_BATCH_MESSAGES, NO_PUBLISHER, Kind
from radio.core.wire import LEAD as _LEAD, LIVE as _LIVE
from radio.core.wire import RECORD as _RECORD, TAIL as _TAIL, frame_prefix
from radio.core.ready import ReadyQueue
from radio.core.session import SessionState
from radio.errors import ClosedError, MalformedMessageError
from radio.message import Message

if (_TAIL.size, _RECORD.size, _HEADER.size, MAX_BATCH_MESSAGES, _LEAD.size, _LIVE, Kind.BATCH) != (
    TAIL, RECORD, HEADER, MAX_BATCH, LEAD, LIVE, BATCH
):
    raise ImportError("radio._hot was built for another wire format: rebuild it")

cdef enum:
    TAIL = 24  # seq (8), sent_at (8), ttl (8): wire's "!Qdd" after the prefix
    MAX_READ = 256  # frames one read takes at most: sockets.READ_FRAMES
    RECORD = 12  # a batch record's header: wire.RECORD, "!dI"
    HEADER = 34  # wire.HEADER: version, kind, instance, then the tail
    MAX_BATCH = 256  # wire.MAX_BATCH_MESSAGES
    LEAD = 10  # wire.LEAD: version, kind, instance
    LIVE = 0x80  # wire.LIVE
    BATCH = 4  # wire.Kind.BATCH

cdef int _DONTWAIT = zmq.DONTWAIT
cdef int _SNDMORE = zmq.SNDMORE
cdef int _EAGAIN = zmq.EAGAIN
cdef short _POLLIN = zmq.POLLIN
import errno as _errno
cdef int _EINTR = _errno.EINTR
cdef bint _bound = False
cdef double _INF = float("inf")


def bind(dict functions):
    """Take libzmq's functions: a dict of name -> address (`radio.hot` finds them)."""
    global radio_msg_init, radio_msg_init_size, radio_msg_send, radio_msg_recv
    global radio_msg_close, radio_msg_data, radio_msg_size, radio_msg_more, radio_errno
    global radio_poll
    global _bound
    radio_msg_init = <radio_msg_init_t><uintptr_t>functions["zmq_msg_init"]
    radio_msg_init_size = <radio_msg_init_size_t><uintptr_t>functions["zmq_msg_init_size"]
    radio_msg_send = <radio_msg_io_t><uintptr_t>functions["zmq_msg_send"]
    radio_msg_recv = <radio_msg_io_t><uintptr_t>functions["zmq_msg_recv"]
    radio_msg_close = <radio_msg_close_t><uintptr_t>functions["zmq_msg_close"]
    radio_msg_data = <radio_msg_data_t><uintptr_t>functions["zmq_msg_data"]
    radio_msg_size = <radio_msg_size_t><uintptr_t>functions["zmq_msg_size"]
    radio_msg_more = <radio_msg_more_t><uintptr_t>functions["zmq_msg_more"]
    radio_errno = <radio_errno_t><uintptr_t>functions["zmq_errno"]
    radio_poll = <radio_poll_t><uintptr_t>functions["zmq_poll"]
    _bound = True


cdef object _error(int errno):
    """The pyzmq exception for *errno*, as pyzmq's own calls raise it."""
    if errno == _EAGAIN:
        return zmq.Again(errno)
    if errno == zmq.ETERM:
        return zmq.ContextTerminated(errno)
    return zmq.ZMQError(errno)


cdef class Field:
    """One attribute of a core's objects, read (and written) the quickest way there is.

    A core compiled with mypyc keeps its attributes in C, behind getset
    descriptors: calling the descriptor's functions skips the attribute lookup
    (type dictionary, descriptor protocol) that ``getattr`` makes each time.
    Anything else (pure Python cores, another type) takes ``getattr``.
    """

    cdef object owner, name, descr

    def __cinit__(self, owner, str name, bint settable=False):
        self.owner = owner
        self.name = name
        descr = owner.__dict__.get(name)
        self.descr = descr if descr is not None and radio_is_getset(descr, settable) else None

    cdef inline object get(self, obj):
        if self.descr is not None and type(obj) is self.owner:
            return radio_getset_get(self.descr, obj)
        return getattr(obj, self.name)

    cdef inline int set(self, obj, value) except -1:
        if self.descr is not None and type(obj) is self.owner:
            return radio_getset_set(self.descr, obj, value)
        setattr(obj, self.name, value)
        return 0


cdef Field _SEQ = Field(SessionState, "seq", True)
cdef Field _PREFIX = Field(SessionState, "prefix")
cdef Field _BATCH_PREFIX = Field(SessionState, "batch_prefix")
cdef Field _MAX_PAYLOAD = Field(SessionState, "max_payload")
cdef Field _SMALL_BELOW = Field(SessionState, "small_below")
cdef Field _BATCHED_BELOW = Field(SessionState, "batched_below")
cdef Field _BATCH = Field(SessionState, "batch")
cdef Field _GENERATION = Field(ReadyQueue, "generation")
cdef Field _TAKEN = Field(ReadyQueue, "taken")
cdef Field _CONVERSION = Field(ReadyQueue, "conversion")


cdef inline double _monotonic() noexcept nogil:
    return radio_monotonic()


def monotonic():
    """The clock the fast path stamps with: ``time.monotonic`` (CLOCK_MONOTONIC)."""
    return radio_monotonic()


cdef inline void _write(char *out, bytes prefix, uint64_t seq, double now, double ttl,
                        const char *payload, Py_ssize_t size) noexcept:
    """Write a DATA frame into *out*: *prefix*, the tail ("!Qdd"), *payload*."""
    cdef Py_ssize_t head = PyBytes_GET_SIZE(prefix)
    memcpy(out, PyBytes_AS_STRING(prefix), head)
    radio_put_u64(out + head, seq)
    radio_put_f64(out + head + 8, now)
    radio_put_f64(out + head + 16, ttl)
    if size:
        memcpy(out + head + TAIL, payload, size)


def encode(bytes prefix, uint64_t seq, double sent_at, double ttl, bytes payload):
    """The frame the fast path sends: ``wire``'s ``prefix + pack_tail(...) + payload``."""
    cdef Py_ssize_t size = PyBytes_GET_SIZE(payload)
    cdef bytes frame = PyBytes_FromStringAndSize(
        NULL, PyBytes_GET_SIZE(prefix) + TAIL + size
    )
    _write(PyBytes_AS_STRING(frame), prefix, seq, sent_at, ttl, PyBytes_AS_STRING(payload), size)
    return frame


cdef struct _Run:
    # Where a run of frames goes on from: `take_run`'s arguments (its objects
    # borrowed from the caller, which holds them for the call), and how far it went.
    bint on
    const char *lead
    Py_ssize_t offset, body, kind_at, taken
    Py_ssize_t limit  # frames over it stop the run (-1: none)
    unsigned char batch_kind  # the kind byte of the lead's BATCH frames
    uint64_t last
    double last_sent, skew, watch, due, base
    PyObject *channel
    PyObject *session
    PyObject *clock
    PyObject *out


cdef void _start(_Run *run, bytes lead, str channel, str session, last, double last_sent,
                 double skew, double watch, double due, double base, clock, out,
                 Py_ssize_t limit):
    """Set *run* to go on from *lead*'s seq *last* (no next seq, or no lead: it is off)."""
    run.offset = PyBytes_GET_SIZE(lead)
    run.on = run.offset >= LEAD and 0 <= last < 0xFFFFFFFFFFFFFFFF
    run.last = last if run.on else 0
    run.lead = PyBytes_AS_STRING(lead)
    run.body = run.offset + TAIL
    run.kind_at = run.offset - LEAD + 1
    run.batch_kind = (<unsigned char>run.lead[run.kind_at] & LIVE) | BATCH if run.on else 0
    run.last_sent, run.skew, run.watch, run.due, run.base = last_sent, skew, watch, due, base
    run.limit = limit
    run.taken = 0
    run.channel, run.session = <PyObject *>channel, <PyObject *>session
    run.clock, run.out = <PyObject *>clock, <PyObject *>out


cdef class Socket:
    """A libzmq socket's handle, usable while its owner keeps it open (see `detach`).

    Every call is made under the owner's lock, as radio makes all its socket calls:
    the owner calls `detach` under that lock before it closes the pyzmq socket.
    """

    cdef void *handle
    cdef object socket  # the pyzmq socket: kept alive while attached
    cdef public Py_ssize_t largest  # the largest frame of the last `read`
    cdef public Py_ssize_t went_on  # the messages the last `read_on` took on

    def __cinit__(self, socket):
        if not _bound:
            raise RuntimeError("radio._hot.bind was not called")
        self.socket = socket
        self.handle = <void *><uintptr_t>socket.underlying

    def detach(self):
        """Forget the handle: the owner is closing the socket (call under its lock)."""
        self.handle = NULL
        self.socket = None

    @property
    def attached(self):
        return self.handle != NULL

    cdef char *_new_msg(self, radio_msg_t *msg, Py_ssize_t size) except NULL:
        """Make *msg* a message of *size* bytes to fill; its data (raises when detached)."""
        if self.handle == NULL:
            raise zmq.ZMQError(zmq.ENOTSOCK)
        if radio_msg_init_size(msg, <size_t>size) != 0:
            raise MemoryError()
        return <char *>radio_msg_data(msg)

    cdef int _send(self, radio_msg_t *msg, int flags) except -1:
        """Hand *msg* to libzmq; on failure close it and raise.

        A send that may wait lets go of the interpreter; one that never waits
        (DONTWAIT, all of radio's) keeps it: letting it go and taking it back
        costs more than the call, and hands the interpreter to whichever thread
        wants it at every message (the other thread then runs its full slice of
        the interpreter, 5 ms, before this one gets it back).
        """
        cdef int rc, errno
        if flags & _DONTWAIT:
            rc = radio_msg_send(msg, self.handle, flags)
        else:
            with nogil:
                rc = radio_msg_send(msg, self.handle, flags)
        if rc < 0:
            errno = radio_errno()
            radio_msg_close(msg)
            raise _error(errno)
        return 0

    cdef int _send_frame(self, bytes prefix, uint64_t seq, double now, double ttl,
                         const char *payload, Py_ssize_t size, int flags) except -1:
        """Send prefix + tail + payload as one frame (`wire.encode`'s bytes)."""
        cdef radio_msg_t msg
        cdef char *data = self._new_msg(&msg, PyBytes_GET_SIZE(prefix) + TAIL + size)
        _write(data, prefix, seq, now, ttl, payload, size)
        return self._send(&msg, flags)

    cdef int _send_batch(self, bytes prefix, uint64_t seq, double now, double ttl, list items,
                         Py_ssize_t start, Py_ssize_t stop, Py_ssize_t size,
                         int flags) except -1:
        """Send items[start:stop] as one BATCH frame (`SessionState.frames`'s bytes).

        *size* is what its records take: RECORD and the payload, each.
        """
        cdef radio_msg_t msg
        cdef Py_ssize_t head = PyBytes_GET_SIZE(prefix), i, length
        cdef char *out = self._new_msg(&msg, head + TAIL + size)
        cdef object payload
        memcpy(out, PyBytes_AS_STRING(prefix), head)
        radio_put_u64(out + head, seq)
        radio_put_f64(out + head + 8, now)
        radio_put_f64(out + head + 16, ttl)
        out += head + TAIL
        for i in range(start, stop):
            payload = <object>PyList_GET_ITEM(items, i)
            length = PyBytes_GET_SIZE(payload)
            radio_put_f64(out, now)
            radio_put_u32(out + 8, <unsigned long>length)
            if length:
                memcpy(out + RECORD, PyBytes_AS_STRING(payload), length)
            out += RECORD + length
        return self._send(&msg, flags)

    def send_bytes(self, bytes frame, int flags=0):
        """Send *frame* as it is (``flags``: DONTWAIT, SNDMORE), copying it."""
        cdef radio_msg_t msg
        cdef Py_ssize_t size = PyBytes_GET_SIZE(frame)
        memcpy(self._new_msg(&msg, size), PyBytes_AS_STRING(frame), size)
        self._send(&msg, flags)

    def wait(self, long milliseconds):
        """Whether a message is there to read within *milliseconds* (``Socket.poll``'s job).

        It lets go of the interpreter while it waits; a signal wakes it, and its
        handler's exception (Ctrl-C's KeyboardInterrupt) is raised here.
        """
        cdef radio_pollitem_t item
        cdef int rc, errno
        if self.handle == NULL:
            raise zmq.ZMQError(zmq.ENOTSOCK)
        item.socket = self.handle
        item.fd = 0
        item.events = _POLLIN
        item.revents = 0
        with nogil:
            rc = radio_poll(&item, 1, milliseconds)
        if rc < 0:
            errno = radio_errno()
            if errno == _EINTR:
                PyErr_CheckSignals()  # Ctrl-C: the handler's exception goes up from here
                return False
            raise _error(errno)
        return rc > 0

    def read(self, Py_ssize_t max_frames=MAX_READ, Py_ssize_t max_bytes=256 * 1024):
        """The frames of the whole messages waiting, up to a bound; none: ``[]``.

        `sockets.read_messages` in C: up to *max_frames* frames and about
        *max_bytes* bytes, never stopping between the parts of a message (a
        message of more parts than `MAX_READ` is read in several rounds). It never
        blocks, and lets go of the interpreter while libzmq reads each round.
        """
        return self._read(max_frames, max_bytes, NULL)

    def read_on(self, tuple state, out, continued, Py_ssize_t limit=-1,
                Py_ssize_t max_frames=MAX_READ, Py_ssize_t max_bytes=256 * 1024):
        """`read`, taking the messages that go on from *state* before they are frames.

        *state*: `Tuner.continuation`'s (`take_run`'s arguments from its lead to its
        clock). The messages read that `take_run` would take from the frames, none
        over *limit* bytes (-1: no limit), go to *out* straight from libzmq's
        buffers; *continued* (`Tuner.continued`) is told how far they went, even
        when *out* raises. Returns the frames from the first one not taken on:
        the tuner takes those as ever.
        """
        cdef _Run run
        if PyTuple_GET_SIZE(state) != 10:
            raise ValueError(f"a continuation has 10 items, not {PyTuple_GET_SIZE(state)}")
        _start(&run, state[0], state[1], state[2], state[3], state[4], state[5], state[6],
               state[7], state[8], state[9], out, limit)
        try:
            return self._read(max_frames, max_bytes, &run)
        finally:
            self.went_on = run.taken
            if run.taken:
                continued(run.last, run.last_sent, run.taken)

    cdef list _read(self, Py_ssize_t max_frames, Py_ssize_t max_bytes, _Run *run):
        """`read` and `read_on` (*run*: NULL, or where the messages may go on from)."""
        cdef radio_msg_t msgs[MAX_READ]
        cdef char parts[MAX_READ]  # whether a frame has parts after it
        cdef Py_ssize_t count, total = 0, taken = 0, i, largest = 0, size
        cdef int rc = 0, errno = 0, more = 0
        cdef void *handle = self.handle
        cdef list frames = []
        cdef const char *data
        if handle == NULL:
            raise zmq.ZMQError(zmq.ENOTSOCK)
        if max_frames > MAX_READ:
            max_frames = MAX_READ
        while True:
            count = 0
            with nogil:
                while count < MAX_READ:
                    radio_msg_init(&msgs[count])
                    rc = radio_msg_recv(&msgs[count], handle, _DONTWAIT)
                    if rc < 0:
                        errno = radio_errno()
                        radio_msg_close(&msgs[count])
                        break
                    more = radio_msg_more(&msgs[count])
                    parts[count] = more != 0
                    total += rc
                    count += 1
                    if not more and (taken + count >= max_frames or total >= max_bytes):
                        break
            try:
                for i in range(count):
                    data = <const char *>radio_msg_data(&msgs[i])
                    size = <Py_ssize_t>radio_msg_size(&msgs[i])
                    if run != NULL and run.on:
                        if not parts[i] and _go_on(run, data, size):
                            continue
                        run.on = False  # the rest are frames: the tuner's
                    frames.append(PyBytes_FromStringAndSize(data, size))
                    if size > largest:
                        largest = size
            finally:  # a MemoryError above leaks none of libzmq's messages
                for i in range(count):
                    radio_msg_close(&msgs[i])
            taken += count
            if rc < 0 or not more:
                break  # nothing more waits, or a bound was reached between two messages
        self.largest = largest
        if rc < 0 and errno != _EAGAIN and errno != _EINTR and not frames:
            if run == NULL or not run.taken:
                raise _error(errno)
        return frames


cdef class Lock:
    """A lock as ``threading.Lock`` is one, taken and released in C by the hot paths.

    Python code uses it as it would ``threading.Lock`` (``with``, `acquire`,
    `release`, `locked`, and inside ``threading.Condition``); `Sender` takes it with
    no Python call. A blocking `acquire` lets go of the interpreter while it waits
    and can be interrupted by a signal (Ctrl-C), as ``threading.Lock``'s can.

    It is a POSIX semaphore of its own, not CPython's lock: CPython 3.11 reads the
    monotonic clock on every acquire, even one that does not wait (to compute a
    deadline it then ignores), and on this machine that clock read was 21% of a
    batched send (perf). A free lock is taken and let go without a system call.
    """

    cdef sem_t _sem
    cdef bint _ready  # the semaphore was made: __dealloc__ destroys it
    cdef bint _held

    def __cinit__(self):
        self._ready = False
        self._held = False
        if sem_init(&self._sem, 0, 1) != 0:
            raise MemoryError()
        self._ready = True

    def __dealloc__(self):
        if self._ready:
            sem_destroy(&self._sem)

    cdef inline bint take(self) except -1:
        """Acquire, waiting as long as it takes (interruptible): the hot paths' call."""
        if sem_trywait(&self._sem) == 0:
            self._held = True
            return True
        return self._wait(-1.0)

    cdef inline bint try_take(self) noexcept:
        """Acquire if free, never waiting: whether it was taken."""
        if sem_trywait(&self._sem) == 0:
            self._held = True
            return True
        return False

    cdef inline void give(self) noexcept:
        self._held = False
        sem_post(&self._sem)

    cdef bint _wait(self, double seconds) except -1:
        """Wait for the lock, at most *seconds* (negative: as long as it takes)."""
        cdef double deadline = -1.0 if seconds < 0 else radio_monotonic() + seconds
        cdef int rc
        while True:
            with nogil:
                rc = radio_sem_wait(&self._sem, deadline)
            if rc == 0:
                self._held = True
                return True
            if rc == 1:
                return False
            PyErr_CheckSignals()  # interrupted: a handler that raises ends the wait

    def acquire(self, blocking=True, timeout=-1):
        """Take the lock; False when not *blocking* (or after *timeout* s) and it is taken."""
        cdef double seconds = timeout
        if not blocking and seconds != -1:
            raise ValueError("can't specify a timeout for a non-blocking call")
        if seconds < 0 and seconds != -1:
            raise ValueError("timeout value must be a non-negative number")
        if sem_trywait(&self._sem) == 0:
            self._held = True
            return True
        if not blocking:
            return False
        return self._wait(seconds)

    def release(self):
        """Let the lock go (any thread may, as with ``threading.Lock``)."""
        if not self._held:
            raise RuntimeError("release unlocked lock")
        self.give()

    def locked(self):
        """Whether the lock is taken."""
        return self._held

    def __enter__(self):
        return self.take()

    def __exit__(self, *exc):
        self.give()


def put_now(Lock wire, outbox, items, then):
    """`radio.outbox.Outbox.put`'s attempt: if *wire* is free, send *items* (and run *then*).

    *wire* is tried for and let go here in C, so that no signal (Ctrl-C) can land
    between taking it and the ``finally`` that lets it go. Whether it was free.
    """
    if not wire.try_take():
        return False
    try:
        outbox.emit(items)
        if then is not None:
            then()
    finally:
        wire.give()
    return True


cdef class Sender:
    """`Publisher.send`'s common case in C; anything else goes to *slow*, as given.

    *lock* is the publisher's state lock and *wire* its socket's, *pending* its
    outbox's queue (`radio.outbox.Outbox`), *sessions* its core's table of open
    sessions (name -> `SessionState`), *slow* and *slow_many* the Python `send` and
    `send_many`. The fast case: a bytes payload under its session's
    ``small_below`` (a session that neither batches nor keeps its last value), a
    float TTL or None, no service pass due, the socket free and nothing waiting
    in the outbox. *wire* is only tried for, never waited for.
    """

    cdef Socket socket
    cdef object acquire, release, wire_acquire, wire_release, pending
    cdef Lock fast_lock  # the lock, when it is ours: taken with no Python call
    cdef Lock fast_wire
    cdef dict sessions
    cdef object slow, slow_many
    cdef public double next_service
    cdef object state, batch  # the session sent on last, and its batch when it is ours
    cdef Py_ssize_t small_below, batched_below  # its limits (`_limits`)

    def __cinit__(self, Socket socket, lock, wire, pending, dict sessions, slow, slow_many):
        self.socket = socket
        self.acquire = lock.acquire
        self.release = lock.release
        self.fast_lock = lock if type(lock) is Lock else None
        self.wire_acquire = wire.acquire
        self.wire_release = wire.release
        self.fast_wire = wire if type(wire) is Lock else None
        self.pending = pending
        self.sessions = sessions
        self.slow = slow
        self.slow_many = slow_many
        self.next_service = 0.0
        self.state = self.batch = None
        self.small_below = self.batched_below = 0

    cdef inline bint _wired(self) except -1:
        """Take the socket's lock if it is free and nothing waits in the outbox."""
        if self.fast_wire is not None:
            if not self.fast_wire.try_take():
                return False
        elif not self.wire_acquire(False):
            return False
        if len(self.pending):
            self._unwire()
            return False
        return True

    cdef inline void _unwire(self) noexcept:
        if self.fast_wire is not None:
            self.fast_wire.give()
        else:
            self.wire_release()

    cdef inline int _take(self) except -1:
        if self.fast_lock is not None:
            self.fast_lock.take()
        else:
            self.acquire()
        return 0

    cdef inline void _give(self) noexcept:
        if self.fast_lock is not None:
            self.fast_lock.give()
        else:
            self.release()

    def send(self, session, payload, ttl=None):
        """`Publisher.send`: number and broadcast *payload* on *session*; its seq."""
        cdef double ttl_value = 0.0
        cdef PyObject *found
        cdef object frame, number
        cdef Batch batch
        cdef Py_ssize_t size
        cdef double now
        if type(payload) is not bytes:
            return self.slow(session, payload, ttl)
        if ttl is not None:
            if type(ttl) is not float:
                return self.slow(session, payload, ttl)
            ttl_value = <double>ttl
            if not (0.0 < ttl_value < _INF):
                return self.slow(session, payload, ttl)
        size = PyBytes_GET_SIZE(payload)
        self._take()
        try:
            found = PyDict_GetItem(self.sessions, session)
            now = radio_monotonic()
            if found == NULL or now >= self.next_service:
                pass
            elif size < self._limits(<object>found):
                if self._wired():
                    try:
                        number = self._next_seq(<object>found)
                        self.socket._send_frame(
                            _PREFIX.get(<object>found), <uint64_t>number, now, ttl_value,
                            PyBytes_AS_STRING(payload), size, _DONTWAIT,
                        )
                        return number
                    finally:
                        self._unwire()
            elif size < self.batched_below and self.batch is not None:  # `frame`'s
                batch = <Batch>self.batch
                if not batch._completes(now, ttl_value, size):  # nothing to send: no socket
                    number = self._next_seq(<object>found)
                    batch._add(<uint64_t>number, now, ttl_value, PyBytes_AS_STRING(payload), size)
                    return number
                if self._wired():
                    try:
                        number = self._next_seq(<object>found)
                        frame = batch._add(
                            <uint64_t>number, now, ttl_value, PyBytes_AS_STRING(payload), size
                        )
                        if frame is not None:
                            self.socket.send_bytes(frame, _DONTWAIT)
                        return number
                    finally:
                        self._unwire()
        finally:
            self._give()
        return self.slow(session, payload, ttl)

    cdef inline Py_ssize_t _limits(self, object state) except -1:
        """*state*'s ``small_below``, read once per session: a session's limits never change.

        ``batched_below`` and its batch (ours, or None: the Python path) are kept with it.
        """
        cdef object batch
        if state is not self.state:
            batch = _BATCH.get(state)
            self.batch = batch if type(batch) is Batch else None
            self.small_below = _SMALL_BELOW.get(state)
            self.batched_below = _BATCHED_BELOW.get(state)
            self.state = state
        return self.small_below

    cdef inline object _next_seq(self, object state):
        """Number the next message of *state*: its seq, as the one int object it is stored as."""
        cdef object number = <uint64_t>_SEQ.get(state) + 1
        _SEQ.set(state, number)
        return number

    def send_many(self, session, payloads, ttl=None):
        """`Publisher.send_many`'s common case (every payload small bytes); else *slow_many*."""
        cdef double ttl_value = 0.0
        cdef PyObject *found
        cdef object state, payload
        cdef list items = payloads if type(payloads) is list else list(payloads)
        cdef Py_ssize_t count = PyList_GET_SIZE(items), i, small, stop, size, need, room
        cdef uint64_t seq
        cdef double now
        cdef bytes prefix, batch_prefix
        cdef Socket socket = self.socket
        if ttl is not None:
            if type(ttl) is not float:
                return self.slow_many(session, items, ttl)
            ttl_value = <double>ttl
            if not (0.0 < ttl_value < _INF):
                return self.slow_many(session, items, ttl)
        for i in range(count):
            if type(<object>PyList_GET_ITEM(items, i)) is not bytes:
                return self.slow_many(session, items, ttl)
        self._take()
        try:
            found = PyDict_GetItem(self.sessions, session)
            now = radio_monotonic()
            state = None
            if found != NULL and now < self.next_service:
                state = <object>found
                small = self._limits(state)
                for i in range(count):
                    if PyBytes_GET_SIZE(<bytes>PyList_GET_ITEM(items, i)) >= small:
                        state = None
                        break
            if state is not None and self._wired():
                try:
                    seq = <uint64_t>_SEQ.get(state)
                    _SEQ.set(state, seq + <uint64_t>count)  # all numbered first, as `frames`
                    prefix = _PREFIX.get(state)
                    batch_prefix = _BATCH_PREFIX.get(state)
                    room = _MAX_PAYLOAD.get(state)
                    i = 0
                    while i < count:  # `frames`' runs: as many records as a frame holds
                        stop, size = i, 0
                        while stop < count and stop - i < MAX_BATCH:
                            need = RECORD + PyBytes_GET_SIZE(<bytes>PyList_GET_ITEM(items, stop))
                            if size + need > room:
                                break
                            size += need
                            stop += 1
                        if stop - i > 1:
                            socket._send_batch(
                                batch_prefix, seq + 1, now, ttl_value, items, i, stop, size,
                                _DONTWAIT,
                            )
                            seq += <uint64_t>(stop - i)
                            i = stop
                            continue
                        payload = <object>PyList_GET_ITEM(items, i)  # one, or too large for a record
                        seq += 1
                        socket._send_frame(
                            prefix, seq, now, ttl_value, PyBytes_AS_STRING(payload),
                            PyBytes_GET_SIZE(payload), _DONTWAIT,
                        )
                        i += 1
                    return seq
                finally:
                    self._unwire()
        finally:
            self._give()
        return self.slow_many(session, items, ttl)


cdef inline void _set(object message, Py_ssize_t index, object item) noexcept:
    Py_INCREF(item)  # PyTuple_SET_ITEM steals a reference
    PyTuple_SET_ITEM(message, index, item)


cdef inline object _message(PyTypeObject *kind, str channel, str session, uint64_t seq,
                            double sent_at, double ttl, const char *payload, Py_ssize_t size):
    """A `Message` (a tuple subclass) made as ``tuple.__new__(Message, (...))`` makes it."""
    return _message_at(kind, channel, session, seq, sent_at, ttl if ttl else None, payload, size)


cdef object _message_at(PyTypeObject *kind, str channel, str session, uint64_t seq,
                        object stamp, object expiry, const char *payload, Py_ssize_t size):
    """`_message` with its send time and TTL made already (shared by a batch's messages)."""
    cdef object number = seq
    cdef object data = PyBytes_FromStringAndSize(payload, size)
    cdef PyObject *made = radio_alloc_tuple(kind, 6)  # its items set before any other call
    if made == NULL:
        raise MemoryError()
    cdef object message = <object>made
    Py_DECREF(message)  # <object> took a reference of its own
    _set(message, 0, channel)
    _set(message, 1, session)
    _set(message, 2, number)
    _set(message, 3, stamp)
    _set(message, 4, expiry)
    _set(message, 5, data)
    # Strings, numbers, bytes and None hold nothing that could make a cycle: the cyclic
    # collector need never visit it (a tuple subclass is never untracked by itself, and
    # a reader keeps thousands of them queued, each visited at every collection).
    PyObject_GC_UnTrack(message)
    return message


cdef int _go_on(_Run *run, const char *data, Py_ssize_t size) except -1:
    """Take a single-frame message as `take_run` takes a frame: 1, or 0 where it stops."""
    cdef uint64_t seq
    cdef double sent_at, ttl, arrived, age
    cdef Py_ssize_t count, at = run.kind_at
    cdef bint batch
    if run.last == 0xFFFFFFFFFFFFFFFF:
        return 0  # no next seq (`last + 1` would wrap to 0): the tuner decides
    if size < run.body or (run.limit >= 0 and size > run.limit):
        return 0  # too short (the tuner says so), or oversize (it drops and counts it)
    if memcmp(data, run.lead, at) != 0 or memcmp(data + at + 1, run.lead + at + 1,
                                                 run.offset - at - 1) != 0:
        return 0
    batch = data[at] != run.lead[at]
    if batch and <unsigned char>data[at] != run.batch_kind:
        return 0
    seq = radio_get_u64(data + run.offset)
    sent_at = radio_get_f64(data + run.offset + 8)
    ttl = radio_get_f64(data + run.offset + 16)
    if not (0.0 <= sent_at < _INF) or not (0.0 <= ttl < _INF) or seq != run.last + 1:
        return 0
    if batch:
        if ttl or run.watch == _INF or seq >= <uint64_t>(0 - MAX_BATCH):
            return 0  # the tuner's: its records one by one (`Tuner._careful`)
        try:
            count = _check_records(data, run.body, size)
        except MalformedMessageError:
            return 0  # the tuner counts it
        run.last_sent = _pass_records(data, run.body, count, seq, <str>run.channel,
                                      <str>run.session, run.base, <object>run.out)
        run.last = seq + <uint64_t>count - 1
        run.taken += count
        return 1
    if ttl or run.watch == _INF:
        arrived = <double>(<object>run.clock)()
        age = arrived - sent_at
        if age < run.watch or arrived >= run.due or (ttl and age - run.skew > ttl):
            return 0  # a sample to take (`ClockOffset.wants`), or expired: the tuner's
    (<object>run.out)(_message(
        <PyTypeObject *>Message, <str>run.channel, <str>run.session, seq,
        sent_at + run.base, ttl, data + run.body, size - run.body,
    ))
    run.last = seq
    run.last_sent = sent_at
    run.taken += 1
    return 1


def take_run(list frames, Py_ssize_t index, bytes lead, str channel, str session, last,
             double last_sent, double skew, double watch, double due, double base, clock,
             out):
    """`radio.core.runs.take_run` in C: the same frames taken, the same results."""
    cdef Py_ssize_t count = PyList_GET_SIZE(frames)
    cdef object frame
    cdef _Run run
    _start(&run, lead, channel, session, last, last_sent, skew, watch, due, base, clock, out,
           -1)
    while run.on and index < count:
        frame = <object>PyList_GET_ITEM(frames, index)
        if type(frame) is not bytes or not _go_on(
            &run, PyBytes_AS_STRING(frame), PyBytes_GET_SIZE(frame)
        ):
            break
        index += 1
    if not run.taken:
        return index, last, last_sent, 0
    return index, run.last, run.last_sent, run.taken


cdef Py_ssize_t _check_records(const char *data, Py_ssize_t at, Py_ssize_t end) except -1:
    """How many records a BATCH's payload (``data[at:end]``) holds: `decode_records`' checks."""
    cdef Py_ssize_t start, count = 0
    cdef unsigned long long length
    cdef double sent_at
    while at < end:  # decode_records' checks, in its order, with its words
        if count == MAX_BATCH:
            raise MalformedMessageError(f"batch of more than {MAX_BATCH} messages")
        if at + RECORD > end:
            raise MalformedMessageError(f"batch record header cut short at byte {at}")
        sent_at = radio_get_f64(data + at)
        length = radio_get_u32(data + at + 8)
        start = at + RECORD
        if <unsigned long long>(end - start) < length:
            raise MalformedMessageError(
                f"batch record of {length} bytes overruns the frame"
            )
        at = start + <Py_ssize_t>length
        if not (0.0 <= sent_at < _INF):
            raise MalformedMessageError(f"invalid send time {sent_at!r} in a batch record")
        count += 1
    if not count:
        raise MalformedMessageError("empty batch")
    return count


cdef double _pass_records(const char *data, Py_ssize_t at, Py_ssize_t count, uint64_t first,
                          str channel, str session, double base, out) except? -1.0:
    """Pass on *count* checked records from ``data[at:]``; the last one's send time."""
    cdef Py_ssize_t i, start
    cdef unsigned long long length
    cdef double sent_at = 0.0, stamped = -1.0  # no send time is negative: the first makes one
    cdef object stamp = None
    cdef PyTypeObject *kind = <PyTypeObject *>Message
    for i in range(count):
        sent_at = radio_get_f64(data + at)
        length = radio_get_u32(data + at + 8)
        start = at + RECORD
        at = start + <Py_ssize_t>length
        if sent_at != stamped:  # records sent together (send_many's) share one float
            stamp, stamped = sent_at + base, sent_at
        out(_message_at(kind, channel, session, first + i, stamp, None, data + start,
                        <Py_ssize_t>length))
    return sent_at


def take_batch(bytes frame, Py_ssize_t offset, seq, str channel, str session, double base,
               out):
    """`radio.core.runs.take_batch` in C: every record checked first, then passed on."""
    cdef const char *data = PyBytes_AS_STRING(frame)
    cdef Py_ssize_t count = _check_records(data, offset, PyBytes_GET_SIZE(frame))
    return count, _pass_records(data, offset, count, seq, channel, session, base, out)


cdef class Receiver:
    """`Subscriber.recv`'s hot path in C: a message already taken, checked and returned.

    Anything else (a timeout to validate, a retune or rebase meanwhile, an expired
    message, nothing taken) goes to the subscriber's own ``_recv_checked`` and
    ``_recv_waiting``, as its Python `recv` does.
    """

    cdef object subscriber, queue, checked, waiting, taken, popleft

    def __cinit__(self, subscriber):
        self.subscriber = subscriber
        self.queue = subscriber._queue
        self.checked = subscriber._recv_checked
        self.waiting = subscriber._recv_waiting
        self.taken = self.popleft = None

    def recv(self, timeout=None):
        """`Subscriber.recv`: the next message heard, or None after *timeout* seconds."""
        cdef object queue = self.queue, generation, taken, message, conversion, ttl
        cdef double limit
        if timeout is not None:
            if type(timeout) is not float:
                return self.subscriber.__class__.recv(self.subscriber, timeout)  # validates
            limit = <double>timeout
            if not (0.0 <= limit < _INF):
                return self.subscriber.__class__.recv(self.subscriber, timeout)
        generation = _GENERATION.get(queue)  # read before the pop: see ReadyQueue.fence
        taken = _TAKEN.get(queue)
        if taken is not self.taken:  # swapped (ReadyQueue._swap_taken): its own popleft
            self.taken, self.popleft = taken, taken.popleft
        if taken:
            try:
                message = self.popleft()
            except IndexError:
                message = None
            if message is not None:
                # Its fields read as a tuple's: indexing a tuple subclass (`Message`)
                # through the sequence protocol calls its ``__getitem__`` in Python.
                if not PyTuple_Check(message) or PyTuple_GET_SIZE(message) != 6:
                    return self.checked(message, generation, timeout)
                item = PyTuple_GET_ITEM(message, 4)
                if item == <PyObject *>None:  # no TTL: no conversion needed
                    if _GENERATION.get(queue) == generation:
                        return message
                    return self.checked(message, generation, timeout)
                conversion = _CONVERSION.get(queue)  # before the generation: see rebase
                if _GENERATION.get(queue) == generation:
                    ttl = <object>item
                    if not (
                        radio_monotonic() + <double>conversion
                        > <double><object>PyTuple_GET_ITEM(message, 3) + <double>ttl
                    ):
                        return message
                return self.checked(message, generation, timeout)
        return self.waiting(timeout)


cdef class Iteration:
    """``for message in subscriber``'s loop in C: `Subscriber.__iter__`, step for step.

    It takes `CHUNK` messages at a time (the subscriber's ``_chunk``: under its
    lock, with the generation) and hands them out one by one without the lock; a
    retune or a rebase meanwhile is noticed by the generation (what it fenced is not
    handed out: the rest goes back through ``_put_back``), each one's TTL is checked
    again as it is handed out (an expired one goes to ``_expire``, counted), and
    what is left when the loop stops goes back, in order, when the iterator goes
    (``close``, or its finalizer).
    """

    cdef object queue, take, put_back, expire, generation
    cdef list chunk
    cdef Py_ssize_t index

    def __cinit__(self, subscriber):
        self.queue = subscriber._queue
        self.take = subscriber._chunk
        self.put_back = subscriber._put_back
        self.expire = subscriber._expire
        self.chunk = None
        self.generation = None
        self.index = 0

    def __iter__(self):
        return self

    def __next__(self):
        cdef object queue = self.queue, message, conversion
        cdef bint mine
        cdef list chunk
        while True:
            chunk = self.chunk
            if chunk is None:
                try:
                    self.generation, chunk = self.take()
                except ClosedError:
                    raise StopIteration
                self.chunk = chunk
                self.index = 0
            while self.index < PyList_GET_SIZE(chunk):
                message = <object>PyList_GET_ITEM(chunk, self.index)
                # Its fields read as a tuple's (see Receiver.recv); the conversion
                # before the generation, and only for a message with a TTL.
                mine = PyTuple_Check(message) and PyTuple_GET_SIZE(message) == 6
                if mine and PyTuple_GET_ITEM(message, 4) == <PyObject *>None:
                    if _GENERATION.get(queue) != self.generation:
                        break  # retuned or rebased: the rest goes back through the fence
                    self.index += 1
                    return message
                conversion = _CONVERSION.get(queue)
                if _GENERATION.get(queue) != self.generation:
                    break
                self.index += 1
                if mine:
                    if (
                        radio_monotonic() + <double>conversion
                        > <double><object>PyTuple_GET_ITEM(message, 3)
                        + <double><object>PyTuple_GET_ITEM(message, 4)
                    ):
                        self.expire(message)
                        continue
                elif queue.expired(message, conversion):  # not a tuple: judged in Python
                    self.expire(message)
                    continue
                return message
            self.close()  # the rest (if any) goes back; the next chunk is taken

    def close(self):
        """Put back what was taken and not handed out (the loop stopped)."""
        cdef list chunk = self.chunk
        self.chunk = None
        if chunk is not None and self.index < PyList_GET_SIZE(chunk):
            self.put_back(chunk[self.index:], self.generation)

    def __del__(self):
        self.close()


cdef class Batch:
    """`radio.core.batch.Batch` in C, frame for frame: its records in one growing buffer.

    The publisher's core makes its sessions' batches with this class when the hot
    loops are built (`Transmitter.batch_type`); `Sender` then adds a message to one
    without a Python call. The tests hold it to the pure class's frames.
    """

    cdef bytes _topic, _publisher, _prefix
    cdef Py_ssize_t _max_messages, _count, _size, _capacity
    cdef char *_records
    cdef uint64_t _first_seq
    cdef double _since, _ttl
    cdef public Py_ssize_t max_bytes
    cdef public double delay

    def __cinit__(self, bytes topic, Py_ssize_t max_messages, Py_ssize_t max_bytes,
                  double delay, bytes publisher=NO_PUBLISHER):
        self._topic = topic
        self._publisher = publisher
        self._prefix = frame_prefix(topic, Kind.BATCH, publisher=publisher)
        self._max_messages = max_messages
        self.max_bytes = max_bytes - PyBytes_GET_SIZE(topic) - HEADER
        self.delay = delay
        self._records = NULL
        self._count = self._size = self._capacity = 0

    def __dealloc__(self):
        PyMem_Free(self._records)

    def set_live(self, live):
        """Flag the frames from now on as sent while the session is (or is not) live."""
        assert not self._count, "flush before changing the live flag"
        self._prefix = frame_prefix(
            self._topic, Kind.BATCH, live=bool(live), publisher=self._publisher
        )

    def __len__(self):
        return self._count

    def add(self, seq, double sent_at, double ttl, bytes payload):
        """Add one message; return a frame to send now (the batch it completed or displaced)."""
        return self._add(seq, sent_at, ttl, PyBytes_AS_STRING(payload), PyBytes_GET_SIZE(payload))

    cdef object _add(self, uint64_t seq, double sent_at, double ttl, const char *payload,
                     Py_ssize_t length):
        cdef Py_ssize_t size = self._size + RECORD + length
        cdef object ready
        cdef char *grown
        cdef Py_ssize_t capacity
        if not self._count:
            self._first_seq, self._since, self._ttl = seq, sent_at, ttl
        elif ttl != self._ttl or size > self.max_bytes:
            ready = self.flush()
            self._add(seq, sent_at, ttl, payload, length)  # starts the next: cannot complete it
            return ready
        if size > self._capacity:
            capacity = max(size, 2 * self._capacity, 4096)
            grown = <char *>PyMem_Realloc(self._records, capacity)
            if grown == NULL:
                raise MemoryError()
            self._records, self._capacity = grown, capacity
        radio_put_f64(self._records + self._size, sent_at)
        radio_put_u32(self._records + self._size + 8, <unsigned long>length)
        if length:
            memcpy(self._records + self._size + RECORD, payload, length)
        self._size = size
        self._count += 1
        if self._count >= self._max_messages or sent_at - self._since >= self.delay:
            return self.flush()
        return None

    cdef inline bint _completes(self, double now, double ttl, Py_ssize_t length) noexcept:
        """Whether `_add` of such a message may hand back a frame (if not, it never does)."""
        if not self._count:
            return self._max_messages <= 1 or self.delay <= 0.0
        if ttl != self._ttl or self._size + RECORD + length > self.max_bytes:
            return True
        return self._count + 1 >= self._max_messages or now - self._since >= self.delay

    def completes(self, double now, double ttl, Py_ssize_t length):
        """`_completes` for the tests: False promises that such an add hands back nothing."""
        return self._completes(now, ttl, length)

    def due(self, double now):
        """Whether the oldest message has waited ``delay`` seconds."""
        return self._count > 0 and now - self._since >= self.delay

    def flush(self):
        """The pending messages as one frame (None when empty); the batch starts over."""
        if not self._count:
            return None
        cdef Py_ssize_t head = PyBytes_GET_SIZE(self._prefix)
        cdef bytes frame = PyBytes_FromStringAndSize(NULL, head + TAIL + self._size)
        cdef char *out = PyBytes_AS_STRING(frame)
        memcpy(out, PyBytes_AS_STRING(self._prefix), head)
        radio_put_u64(out + head, self._first_seq)
        radio_put_f64(out + head + 8, self._since)
        radio_put_f64(out + head + 16, self._ttl)
        memcpy(out + head + TAIL, self._records, self._size)
        self._count = self._size = 0
        return frame

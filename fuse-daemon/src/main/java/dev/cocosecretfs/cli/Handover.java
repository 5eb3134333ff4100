// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.cli;

import dev.cocosecretfs.fuse.FuseMount;
import dev.cocosecretfs.fuse.HandoverState;
import dev.cocosecretfs.fuse.MountTable;
import dev.cocosecretfs.fuse.RequestLog;
import dev.cocosecretfs.fuse.SecretFs;
import dev.cocosecretfs.platform.ErrnoException;
import dev.cocosecretfs.platform.ListenFds;
import dev.cocosecretfs.platform.MemFd;
import dev.cocosecretfs.platform.Native;
import dev.cocosecretfs.platform.SystemdNotify;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The mount's life across restarts of the daemon, through systemd's file descriptor store: a FUSE
 * connection lives while any descriptor of it is open, so a daemon that leaves its /dev/fuse
 * descriptor in the store keeps the mount alive for whoever binds it, and the next daemon takes the
 * descriptor back and serves the same mount (nothing is unmounted or remounted).
 *
 * <p>Two entries, by name: {@value #FUSE}, the connection's descriptor, {@value #STATE}, a sealed
 * memfd with the {@link HandoverState}, and {@value #INFLIGHT}, the shared memfd of the {@link
 * RequestLog}. Stored once the mount is live (before READY=1); removed when
 * the daemon stops for good. Only the plain protocols are used (sd_notify FDSTORE=1 and
 * FDSTOREREMOVE=1, LISTEN_FDS on start), so that a test can play systemd's part.
 */
final class Handover {
    private static final System.Logger LOG = System.getLogger(Handover.class.getName());
    static final String FUSE = "fuse";
    static final String STATE = "fuse-state";
    static final String INFLIGHT = "fuse-inflight";

    /** A connection handed to this start: its /dev/fuse descriptor, its state, its request log. */
    record Inherited(int fd, HandoverState state, RequestLog log) {}

    /** A request log in a shared memfd, to be stored with the connection: fd -1 if there is none. */
    record Log(int fd, RequestLog log) {}

    private Handover() {}

    /**
     * What the store handed this start, if it holds a connection and its state. Every descriptor
     * passed is taken: those of no use are closed (and dropped from the store).
     */
    static Optional<Inherited> take() {
        Map<String, List<Integer>> fds = ListenFds.take();
        if (fds.isEmpty()) {
            return Optional.empty();
        }
        List<Integer> fuse = fds.getOrDefault(FUSE, List.of());
        List<Integer> state = fds.getOrDefault(STATE, List.of());
        for (Map.Entry<String, List<Integer>> e : fds.entrySet()) {
            if (!e.getKey().equals(FUSE) && !e.getKey().equals(STATE) && !e.getKey().equals(INFLIGHT)) {
                LOG.log(System.Logger.Level.WARNING, "closing {0} unknown descriptor(s) named {1} from the store",
                        String.valueOf(e.getValue().size()), e.getKey());
                e.getValue().forEach(Native::close);
                SystemdNotify.removeFds(e.getKey());
            }
        }
        Optional<HandoverState> decoded = Optional.empty();
        for (int fd : state) {
            if (decoded.isEmpty()) {
                try {
                    decoded = HandoverState.decode(MemFd.read(fd, HandoverState.MAX_BYTES));
                } catch (IOException | RuntimeException e) {
                    LOG.log(System.Logger.Level.WARNING, "cannot read the handover state: {0}", e.getMessage());
                }
            }
            Native.close(fd);
        }
        RequestLog log = RequestLog.none();
        for (int fd : fds.getOrDefault(INFLIGHT, List.of())) {
            if (log == RequestLog.none()) {
                try {
                    log = new RequestLog(MemFd.mapShared(fd, RequestLog.BYTES));
                } catch (ErrnoException | RuntimeException e) {
                    LOG.log(System.Logger.Level.WARNING, "cannot map the request log: {0}", e.getMessage());
                }
            }
            Native.close(fd); // the mapping stays; systemd keeps the memfd
        }
        if (fuse.size() != 1 || decoded.isEmpty() || !Native.isFuseDevice(fuse.get(0))) {
            LOG.log(System.Logger.Level.WARNING, "the file descriptor store holds no usable connection ({0}"
                    + " /dev/fuse descriptor(s), {1}); mounting anew", String.valueOf(fuse.size()),
                    decoded.isPresent() ? "its state" : "no state");
            fuse.forEach(Native::close);
            forget();
            return Optional.empty();
        }
        return Optional.of(new Inherited(fuse.get(0), decoded.get(), log));
    }

    /**
     * Gives up a connection handed over that this daemon will not serve (another page or mount point,
     * or no longer mounted): aborts it, so that its mount, if still there, is dead at once and a fresh
     * mount can replace it, then closes it and drops it from the store.
     */
    static void abandon(Inherited inherited, String why) {
        LOG.log(System.Logger.Level.WARNING, "not taking over the mount at {0}: {1}; mounting anew",
                inherited.state().mountPoint(), why);
        String device = inherited.state().device();
        try {
            // Only a coco-secretfs mount of that device: a dead connection's number may be another's now.
            if (MountTable.all().stream().anyMatch(m -> m.device().equals(device)
                    && m.type().equals("fuse." + SecretFs.FS_NAME))) {
                FuseMount.abortConnection(device);
            }
        } catch (IOException | RuntimeException e) {
            LOG.log(System.Logger.Level.DEBUG, "cannot abort connection {0}: {1}", device, e.getMessage());
        }
        Native.close(inherited.fd());
        forget();
    }

    /** A fresh request log for a new mount, if systemd keeps a store for us; else one that records nothing. */
    static Log newLog() {
        if (!SystemdNotify.available()) {
            return new Log(-1, RequestLog.none());
        }
        try {
            int fd = MemFd.createShared("coco-secretfs-requests", RequestLog.BYTES);
            try {
                return new Log(fd, new RequestLog(MemFd.mapShared(fd, RequestLog.BYTES)));
            } catch (ErrnoException | RuntimeException e) {
                Native.close(fd);
                throw e;
            }
        } catch (ErrnoException | RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "cannot make a request log: {0}; a daemon killed while"
                    + " answering may leave its callers to the next daemon''s window", e.getMessage());
            return new Log(-1, RequestLog.none());
        }
    }

    /**
     * Puts the live mount's connection and its state in the store, if systemd keeps one for us:
     * whether it did. Outside systemd this does nothing.
     */
    static boolean store(FuseMount mount, Path backing, byte[] init, Log log) {
        if (!SystemdNotify.available() || init == null) {
            return false;
        }
        Optional<MountTable.Mount> mine = mount.mountInfo();
        if (mine.isEmpty()) {
            LOG.log(System.Logger.Level.WARNING, "cannot tell our mount at {0} apart: it will not outlive this"
                    + " daemon", mount.mountPoint());
            return false;
        }
        HandoverState state = new HandoverState(mount.mountPoint(), mine.get().device(), backing, init);
        int memfd;
        try {
            memfd = MemFd.createSealed("coco-secretfs-state", state.encode());
        } catch (ErrnoException | RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "cannot keep the mount''s state for the next daemon: {0}",
                    e.getMessage());
            return false;
        }
        try {
            if (!SystemdNotify.storeFds(STATE, memfd) || log.fd() >= 0 && !SystemdNotify.storeFds(INFLIGHT, log.fd())
                    || !SystemdNotify.storeFds(FUSE, mount.deviceFd())) {
                LOG.log(System.Logger.Level.WARNING, "systemd did not take the mount''s descriptors: the mount at {0}"
                        + " will not outlive this daemon (FileDescriptorStoreMax= in the unit?)", mount.mountPoint());
                forget();
                return false;
            }
            LOG.log(System.Logger.Level.INFO, "the mount at {0} is kept in systemd''s file descriptor store: it"
                    + " outlives this daemon until a stop", mount.mountPoint());
            return true;
        } finally {
            Native.close(memfd);
            if (log.fd() >= 0) {
                Native.close(log.fd());
            }
        }
    }

    /** Empties our entries of the store: the mount ends with this daemon. */
    static void forget() {
        if (SystemdNotify.available()) {
            SystemdNotify.removeFds(FUSE);
            SystemdNotify.removeFds(STATE);
            SystemdNotify.removeFds(INFLIGHT);
        }
    }
}

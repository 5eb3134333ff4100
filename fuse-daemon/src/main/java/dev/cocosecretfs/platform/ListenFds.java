// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.platform;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The descriptors systemd passes at start (sd_listen_fds(3)): those of the unit's fd store, among
 * others, as {@code LISTEN_FDS} descriptors from 3 on, named by {@code LISTEN_FDNAMES}
 * (colon-separated), meant for the process whose pid is {@code LISTEN_PID}.
 *
 * <p>Java cannot unset its own environment, so the variables stay visible to {@link System#getenv}
 * after {@link #take}: every child process must be started with {@link #childEnvironment}, or it
 * would take the daemon's descriptors for its own (and talk to its NOTIFY_SOCKET).
 */
public final class ListenFds {
    private static final System.Logger LOG = System.getLogger(ListenFds.class.getName());

    /** SD_LISTEN_FDS_START: the first descriptor passed. */
    static final int FIRST_FD = 3;
    /** The name of a descriptor that LISTEN_FDNAMES does not name. */
    static final String UNKNOWN = "unknown";
    /** More than systemd's own limit on the fd store (FileDescriptorStoreMax= is at most 64K). */
    private static final int MAX_FDS = 65536;

    private static boolean taken;

    private ListenFds() {}

    /**
     * The descriptors passed to this process, by name, each in the order passed; set close-on-exec
     * (systemd passes them without), so that no child inherits them. Only the first call returns
     * them: they are the caller's from then on, to keep or close.
     *
     * @return an immutable map, empty if nothing was passed to this process (no LISTEN_FDS, or a
     *     LISTEN_PID that is not ours: the variables were inherited from a parent)
     */
    public static synchronized Map<String, List<Integer>> take() {
        if (taken) {
            return Map.of();
        }
        taken = true;
        Map<String, List<Integer>> passed = parse(System.getenv(), Native.libc().getpid());
        Map<String, List<Integer>> open = new LinkedHashMap<>();
        for (Map.Entry<String, List<Integer>> e : passed.entrySet()) {
            for (int fd : e.getValue()) {
                int errno = setCloseOnExec(fd);
                if (errno != 0) {
                    LOG.log(System.Logger.Level.WARNING, "passed descriptor {0} ({1}) is unusable: {2}", fd,
                            e.getKey(), Native.describe(errno));
                    continue;
                }
                open.computeIfAbsent(e.getKey(), k -> new ArrayList<>()).add(fd);
            }
        }
        return freeze(open);
    }

    /**
     * What {@code env} passes to the process of pid {@code pid}, by name: pure parsing, no call made.
     * Names that LISTEN_FDNAMES lacks are {@value #UNKNOWN}; names beyond LISTEN_FDS are ignored.
     * A LISTEN_PID or LISTEN_FDS that is missing, not a number or out of range passes nothing (a bad
     * value is logged).
     */
    static Map<String, List<Integer>> parse(Map<String, String> env, int pid) {
        String listenPid = env.get("LISTEN_PID");
        String listenFds = env.get("LISTEN_FDS");
        if (listenPid == null || listenFds == null) {
            return Map.of();
        }
        int forPid;
        int count;
        try {
            forPid = Integer.parseInt(listenPid.trim());
            count = Integer.parseInt(listenFds.trim());
        } catch (NumberFormatException e) {
            LOG.log(System.Logger.Level.WARNING, "LISTEN_PID={0} LISTEN_FDS={1}: not numbers; ignoring them",
                    listenPid, listenFds);
            return Map.of();
        }
        if (forPid != pid) {
            return Map.of(); // meant for another process, whose environment we inherited
        }
        if (count <= 0 || count > MAX_FDS) {
            if (count != 0) {
                LOG.log(System.Logger.Level.WARNING, "LISTEN_FDS={0} is out of range; ignoring it", listenFds);
            }
            return Map.of();
        }
        String listenNames = env.get("LISTEN_FDNAMES");
        String[] names = listenNames == null ? new String[0] : listenNames.split(":", -1);
        Map<String, List<Integer>> byName = new LinkedHashMap<>();
        for (int i = 0; i < count; i++) {
            String name = i < names.length && !names[i].isEmpty() ? names[i] : UNKNOWN;
            byName.computeIfAbsent(name, k -> new ArrayList<>()).add(FIRST_FD + i);
        }
        return freeze(byName);
    }

    /** Sets FD_CLOEXEC on {@code fd}, keeping its other flags: 0, or the errno (EBADF: not open). */
    static int setCloseOnExec(int fd) {
        LibC libc = Native.libc();
        int flags = libc.fcntl(fd, LibC.F_GETFD, 0);
        if (flags < 0) {
            return Native.errno();
        }
        if ((flags & LibC.FD_CLOEXEC) == 0 && libc.fcntl(fd, LibC.F_SETFD, flags | LibC.FD_CLOEXEC) < 0) {
            return Native.errno();
        }
        return 0;
    }

    /**
     * Removes what systemd passes to this process (LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES) and
     * NOTIFY_SOCKET from {@code env}, a child's environment such as {@link ProcessBuilder#environment()},
     * so that the child never takes the daemon's descriptors or speaks for its unit.
     *
     * @return {@code env}
     */
    public static Map<String, String> childEnvironment(Map<String, String> env) {
        env.remove("LISTEN_PID");
        env.remove("LISTEN_FDS");
        env.remove("LISTEN_FDNAMES");
        env.remove("NOTIFY_SOCKET");
        return env;
    }

    private static Map<String, List<Integer>> freeze(Map<String, List<Integer>> byName) {
        Map<String, List<Integer>> frozen = new LinkedHashMap<>();
        byName.forEach((name, fds) -> frozen.put(name, List.copyOf(fds)));
        return Collections.unmodifiableMap(frozen);
    }
}

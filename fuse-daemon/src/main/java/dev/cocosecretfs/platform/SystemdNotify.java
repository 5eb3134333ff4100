// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.platform;

import static com.google.common.base.Preconditions.checkArgument;

import java.nio.charset.StandardCharsets;

/**
 * The sd_notify protocol: a datagram to the AF_UNIX socket named by $NOTIFY_SOCKET, with descriptors
 * attached as SCM_RIGHTS for systemd's file descriptor store. Readiness does nothing when the daemon
 * was not started by systemd with Type=notify.
 *
 * <p>The fd store ({@code FileDescriptorStoreMax=} in the unit) keeps descriptors across restarts of
 * the unit, a crash included, and hands them to the next start as {@link ListenFds}: that is how the
 * FUSE connection outlives one daemon (issue 12).
 */
public final class SystemdNotify {
    private static final System.Logger LOG = System.getLogger(SystemdNotify.class.getName());

    private static final int SUN_PATH_MAX = 108;
    /** The longest FDNAME systemd takes (its fdname_is_valid). */
    private static final int FDNAME_MAX = 255;
    /** Most descriptors one message carries here; the kernel's limit (SCM_MAX_FD) is 253. */
    private static final int MAX_FDS = 253;

    // x86-64 layouts.
    /** struct msghdr: name @0, namelen @8, iov @16, iovlen @24, control @32, controllen @40, flags @48. */
    private static final int MSGHDR_BYTES = 56;
    private static final int IOV_AT = 64;
    private static final int IOVEC_BYTES = 16;
    /** struct sockaddr_un: u16 family, then the path. */
    private static final int ADDR_AT = IOV_AT + IOVEC_BYTES;
    private static final int ADDR_BYTES = 2 + SUN_PATH_MAX;
    /** struct cmsghdr: size_t len @0, int level @8, int type @12, data @16; aligned to 8. */
    private static final int CONTROL_AT = ADDR_AT + ((ADDR_BYTES + 7) & -8);
    private static final int CMSG_HEADER = 16;

    private SystemdNotify() {}

    /** True if the daemon was started with a $NOTIFY_SOCKET to tell systemd things through. */
    public static boolean available() {
        String socket = notifySocket();
        return socket != null && !socket.isEmpty();
    }

    /** READY=1, with a status line. */
    public static void ready(String status) {
        send(notifySocket(), "READY=1\nSTATUS=" + status + "\nMAINPID=" + Native.libc().getpid());
    }

    /** STOPPING=1. */
    public static void stopping() {
        send(notifySocket(), "STOPPING=1");
    }

    /**
     * Stores {@code fds} in systemd's fd store under {@code name} ({@code FDSTORE=1}, {@code
     * FDNAME=name}): systemd keeps its own duplicates, so the caller may close its copies. A name may
     * hold several descriptors; storing under a name again adds to it.
     *
     * @return false, logged at WARNING, if there is no $NOTIFY_SOCKET or sending failed
     * @throws IllegalArgumentException if the name is not one systemd takes (empty, longer than 255,
     *     not printable ASCII, or with a ':'), or no descriptor is given
     */
    public static boolean storeFds(String name, int... fds) {
        return storeFds(notifySocket(), name, fds);
    }

    /** {@link #storeFds(String, int...)} to the socket {@code socket}, as $NOTIFY_SOCKET would name it. */
    static boolean storeFds(String socket, String name, int... fds) {
        checkName(name);
        checkArgument(fds.length > 0 && fds.length <= MAX_FDS, "%s descriptors for %s: 1 to %s", fds.length, name,
                MAX_FDS);
        if (socket == null || socket.isEmpty()) {
            LOG.log(System.Logger.Level.WARNING, "cannot store {0} in the fd store: no NOTIFY_SOCKET", name);
            return false;
        }
        return send(socket, "FDSTORE=1\nFDNAME=" + name, fds);
    }

    /**
     * Drops every descriptor systemd stores under {@code name} ({@code FDSTOREREMOVE=1}).
     *
     * @return false, logged at WARNING, if there is no $NOTIFY_SOCKET or sending failed
     */
    public static boolean removeFds(String name) {
        return removeFds(notifySocket(), name);
    }

    /** {@link #removeFds(String)} to the socket {@code socket}. */
    static boolean removeFds(String socket, String name) {
        checkName(name);
        if (socket == null || socket.isEmpty()) {
            LOG.log(System.Logger.Level.WARNING, "cannot remove {0} from the fd store: no NOTIFY_SOCKET", name);
            return false;
        }
        return send(socket, "FDSTOREREMOVE=1\nFDNAME=" + name);
    }

    private static void checkName(String name) {
        checkArgument(name != null && !name.isEmpty() && name.length() <= FDNAME_MAX,
                "fd store name %s is empty or longer than %s", name, FDNAME_MAX);
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            checkArgument(c > ' ' && c < 0x7f && c != ':', "fd store name %s has a character systemd refuses (%s)",
                    name, (int) c);
        }
    }

    private static String notifySocket() {
        return System.getenv("NOTIFY_SOCKET");
    }

    /**
     * Sends one message, with {@code fds} attached if there are any, to {@code socket}: a path, or
     * an abstract name starting with '@'. Returns false when there is no socket (silently: not started
     * by systemd) or sending failed (logged at WARNING).
     */
    static boolean send(String socket, String message, int... fds) {
        if (socket == null || socket.isEmpty()) {
            return false;
        }
        byte[] path = socket.getBytes(StandardCharsets.UTF_8);
        if (path[0] == '@') {
            path[0] = 0; // abstract namespace
        } else if (path[0] != '/') {
            LOG.log(System.Logger.Level.WARNING, "NOTIFY_SOCKET {0} is neither a path nor abstract", socket);
            return false;
        }
        if (path.length >= SUN_PATH_MAX) {
            LOG.log(System.Logger.Level.WARNING, "NOTIFY_SOCKET {0} is too long", socket);
            return false;
        }
        byte[] text = message.getBytes(StandardCharsets.UTF_8);
        int rights = fds.length * Integer.BYTES;
        int controlBytes = fds.length == 0 ? 0 : CMSG_HEADER + align8(rights);
        int textAt = CONTROL_AT + controlBytes;
        long block = NativeMemory.allocate(textAt + text.length);
        LibC libc = Native.libc();
        int fd = -1;
        try {
            // An abstract name's length counts its leading NUL and no trailing one; a path's, its NUL.
            int addrLength = 2 + path.length + (path[0] == 0 ? 0 : 1);
            long addr = block + ADDR_AT;
            NativeMemory.putShort(addr, (short) LibC.AF_UNIX);
            NativeMemory.put(addr + 2, path);
            NativeMemory.put(block + textAt, text);
            long iov = block + IOV_AT;
            NativeMemory.putLong(iov, block + textAt);
            NativeMemory.putLong(iov + 8, text.length);
            NativeMemory.putLong(block, addr);
            NativeMemory.putInt(block + 8, addrLength);
            NativeMemory.putLong(block + 16, iov);
            NativeMemory.putLong(block + 24, 1);
            if (fds.length > 0) {
                long control = block + CONTROL_AT;
                NativeMemory.putLong(control, CMSG_HEADER + rights); // CMSG_LEN
                NativeMemory.putInt(control + 8, LibC.SOL_SOCKET);
                NativeMemory.putInt(control + 12, LibC.SCM_RIGHTS);
                for (int i = 0; i < fds.length; i++) {
                    NativeMemory.putInt(control + CMSG_HEADER + (long) i * Integer.BYTES, fds[i]);
                }
                NativeMemory.putLong(block + 32, control);
                NativeMemory.putLong(block + 40, controlBytes); // CMSG_SPACE
            }
            fd = libc.socket(LibC.AF_UNIX, LibC.SOCK_DGRAM | LibC.SOCK_CLOEXEC, 0);
            if (fd < 0) {
                LOG.log(System.Logger.Level.WARNING, "sd_notify socket: {0}", Native.describe(Native.errno()));
                return false;
            }
            long n;
            do {
                n = libc.sendmsg(fd, block, LibC.MSG_NOSIGNAL);
            } while (n < 0 && Native.errno() == LibC.EINTR);
            if (n < 0) {
                LOG.log(System.Logger.Level.WARNING, "sd_notify {0} to {1}: {2}", firstLine(message), socket,
                        Native.describe(Native.errno()));
                return false;
            }
            return true;
        } finally {
            if (fd >= 0) {
                libc.close(fd);
            }
            NativeMemory.free(block);
        }
    }

    private static int align8(int n) {
        return (n + 7) & -8;
    }

    private static String firstLine(String message) {
        int nl = message.indexOf('\n');
        return nl < 0 ? message : message.substring(0, nl);
    }
}

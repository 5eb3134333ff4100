// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.platform;

import java.nio.charset.StandardCharsets;

/**
 * The sd_notify protocol: a datagram to the AF_UNIX socket named by $NOTIFY_SOCKET. Does nothing
 * when the daemon was not started by systemd with Type=notify.
 */
public final class SystemdNotify {
    private static final System.Logger LOG = System.getLogger(SystemdNotify.class.getName());

    private static final int AF_UNIX = 1;
    private static final int SOCK_DGRAM = 2;
    private static final int SOCK_CLOEXEC = 02000000;
    private static final int SUN_PATH_MAX = 108;

    private SystemdNotify() {}

    /** READY=1, with a status line. */
    public static void ready(String status) {
        send("READY=1\nSTATUS=" + status + "\nMAINPID=" + Native.libc().getpid());
    }

    /** STOPPING=1. */
    public static void stopping() {
        send("STOPPING=1");
    }

    /** Sends one message; returns false when there is no socket or sending failed. */
    static boolean send(String message) {
        String socket = System.getenv("NOTIFY_SOCKET");
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
        // struct sockaddr_un: u16 family (native order, little-endian on the machines we run on), path.
        int addrLength = 2 + path.length + (path[0] == 0 ? 0 : 1);
        byte[] addr = new byte[2 + SUN_PATH_MAX];
        addr[0] = (byte) AF_UNIX;
        System.arraycopy(path, 0, addr, 2, path.length);
        LibC libc = Native.libc();
        int fd = libc.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            LOG.log(System.Logger.Level.WARNING, "sd_notify socket: {0}", Native.describe(Native.errno()));
            return false;
        }
        byte[] bytes = message.getBytes(StandardCharsets.UTF_8);
        long buf = NativeMemory.allocate(bytes.length + addr.length);
        try {
            NativeMemory.put(buf, bytes);
            NativeMemory.put(buf + bytes.length, addr);
            if (libc.sendto(fd, buf, bytes.length, 0, buf + bytes.length, addrLength) < 0) {
                LOG.log(System.Logger.Level.WARNING, "sd_notify to {0}: {1}", socket, Native.describe(Native.errno()));
                return false;
            }
            return true;
        } finally {
            NativeMemory.free(buf);
            libc.close(fd);
        }
    }
}

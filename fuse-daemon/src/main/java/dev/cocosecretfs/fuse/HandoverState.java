// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.fuse;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkNotNull;

import java.io.ByteArrayOutputStream;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;

/**
 * What a daemon taking over a live FUSE connection needs besides its descriptor, kept beside it in
 * systemd's file descriptor store (in a sealed memfd): where the connection is mounted, which mount
 * it is ({@code major:minor} of mountinfo), which page it serves, and the raw INIT request the
 * connection began with. No secret is in it.
 *
 * <p>The page matters: node ids are table positions, so a connection may only ever be served from
 * the page it was mounted with. Encoded as a magic, then four length-prefixed fields.
 */
public record HandoverState(Path mountPoint, String device, Path backing, byte[] init) {
    private static final byte[] MAGIC = "coco-secretfs handover 1\n".getBytes(StandardCharsets.US_ASCII);
    /** Larger than any INIT request (a header of 40 bytes and fuse_init_in), with room for paths. */
    public static final int MAX_BYTES = 64 * 1024;

    public HandoverState {
        checkNotNull(mountPoint, "mountPoint");
        checkNotNull(device, "device");
        checkNotNull(backing, "backing");
        checkNotNull(init, "init");
        init = init.clone();
    }

    @Override
    public byte[] init() {
        return init.clone();
    }

    /** The bytes to store. */
    public byte[] encode() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(MAGIC);
        for (byte[] field : new byte[][] {utf8(mountPoint.toString()), utf8(device), utf8(backing.toString()), init}) {
            out.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(field.length).array());
            out.writeBytes(field);
        }
        byte[] bytes = out.toByteArray();
        checkArgument(bytes.length <= MAX_BYTES, "handover state of %s bytes", bytes.length);
        return bytes;
    }

    /** The state of {@code bytes}, or empty if they are not one this version wrote. */
    public static Optional<HandoverState> decode(byte[] bytes) {
        if (bytes.length < MAGIC.length || !Arrays.equals(bytes, 0, MAGIC.length, MAGIC, 0, MAGIC.length)) {
            return Optional.empty();
        }
        ByteBuffer in = ByteBuffer.wrap(bytes, MAGIC.length, bytes.length - MAGIC.length)
                .order(ByteOrder.LITTLE_ENDIAN);
        try {
            byte[][] fields = new byte[4][];
            for (int i = 0; i < fields.length; i++) {
                int length = in.getInt();
                if (length < 0 || length > in.remaining()) {
                    return Optional.empty();
                }
                fields[i] = new byte[length];
                in.get(fields[i]);
            }
            if (in.hasRemaining()) {
                return Optional.empty();
            }
            return Optional.of(new HandoverState(Path.of(string(fields[0])), string(fields[1]),
                    Path.of(string(fields[2])), fields[3]));
        } catch (BufferUnderflowException | IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static String string(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof HandoverState s && s.mountPoint.equals(mountPoint) && s.device.equals(device)
                && s.backing.equals(backing) && Arrays.equals(s.init, init);
    }

    @Override
    public int hashCode() {
        return mountPoint.hashCode() * 31 + Arrays.hashCode(init);
    }

    @Override
    public String toString() {
        return "handover of " + mountPoint + " (" + device + ", " + backing + ", INIT of " + init.length + " bytes)";
    }
}

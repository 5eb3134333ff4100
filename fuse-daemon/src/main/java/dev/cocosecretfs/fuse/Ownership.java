// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.fuse;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkNotNull;

import java.util.OptionalInt;

/**
 * Who owns the mount's directory, and the files a policy says nothing about, and their permission
 * bits. Unless {@code --dir-mode} sets them, the directory's bits follow the files': search wherever
 * read is allowed, and write for its owner so that the owner can delete.
 *
 * @param uid owner of the files and the directory
 * @param gid group of the files and the directory
 * @param fileMode permission bits of the files (no type bits), such as 0440
 * @param directoryModeSet the directory's bits as {@code --dir-mode} gives them (0-0777, and the
 *     sticky bit 01000), if it does
 */
public record Ownership(long uid, long gid, int fileMode, OptionalInt directoryModeSet) {

    /** root:root, files 0440 and the directory 0750. */
    public static final Ownership DEFAULT = new Ownership(0, 0, 0440);

    private static final int STICKY = 01000;

    public Ownership {
        checkArgument(uid >= 0 && uid <= 0xfffffffeL, "uid %s is out of range", uid);
        checkArgument(gid >= 0 && gid <= 0xfffffffeL, "gid %s is out of range", gid);
        checkArgument((fileMode & ~0777) == 0, "mode %s is not made of permission bits 0-0777",
                Integer.toOctalString(fileMode));
        checkNotNull(directoryModeSet, "directoryModeSet");
        directoryModeSet.ifPresent(bits -> checkArgument((bits & ~(0777 | STICKY)) == 0,
                "directory mode %s is not made of permission bits 0-0777 and the sticky bit 01000",
                Integer.toOctalString(bits)));
    }

    /** The directory's bits derived from the files'. */
    public Ownership(long uid, long gid, int fileMode) {
        this(uid, gid, fileMode, OptionalInt.empty());
    }

    /** The same, with the directory's bits set to {@code bits} rather than derived. */
    public Ownership withDirectoryMode(int bits) {
        return new Ownership(uid, gid, fileMode, OptionalInt.of(bits));
    }

    /** Permission bits of the directory with no policy in force. */
    public int directoryMode() {
        return directoryMode(false);
    }

    /**
     * Permission bits of the directory: as set, or the files' bits plus search where read is, plus
     * owner write; and, while a policy gives secrets to other owners ({@code policyInForce}), read
     * and search for group and other, so that they can reach their files.
     */
    public int directoryMode(boolean policyInForce) {
        if (directoryModeSet.isPresent()) {
            return directoryModeSet.getAsInt();
        }
        int derived = fileMode | (fileMode & 0444) >> 2 | 0200;
        return policyInForce ? derived | 0055 : derived;
    }
}

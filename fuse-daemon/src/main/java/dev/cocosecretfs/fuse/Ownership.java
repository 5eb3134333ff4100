// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.fuse;

import static com.google.common.base.Preconditions.checkArgument;

/**
 * Who owns the mount's files and directory, and their permission bits. The directory's bits follow
 * the files': search wherever read is allowed, and write for its owner so that the owner can delete.
 *
 * @param uid owner of the files and the directory
 * @param gid group of the files and the directory
 * @param fileMode permission bits of the files (no type bits), such as 0440
 */
public record Ownership(long uid, long gid, int fileMode) {

    /** root:root, files 0440 and the directory 0750. */
    public static final Ownership DEFAULT = new Ownership(0, 0, 0440);

    public Ownership {
        checkArgument(uid >= 0 && uid <= 0xfffffffeL, "uid %s is out of range", uid);
        checkArgument(gid >= 0 && gid <= 0xfffffffeL, "gid %s is out of range", gid);
        checkArgument((fileMode & ~0777) == 0, "mode %s is not made of permission bits 0-0777",
                Integer.toOctalString(fileMode));
    }

    /** Permission bits of the directory: the files' bits, plus search where read is, plus owner write. */
    public int directoryMode() {
        return fileMode | (fileMode & 0444) >> 2 | 0200;
    }
}

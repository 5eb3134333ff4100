// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.policy;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkNotNull;

import java.util.Optional;

/**
 * What one secret gets: its file's owner, group and permission bits, the name of the symbolic link
 * shown beside it, and whether it is wiped after its first complete read.
 *
 * @param uid owner of the secret's file (and of its link)
 * @param gid group of the secret's file (and of its link)
 * @param mode permission bits of the file (no type bits)
 * @param name the link's name, if the policy gives one
 * @param once wipe the secret when the first open that read all of it is closed
 */
public record Access(long uid, long gid, int mode, Optional<String> name, boolean once) {

    public Access {
        checkArgument(uid >= 0 && uid <= 0xfffffffeL, "uid %s is out of range", uid);
        checkArgument(gid >= 0 && gid <= 0xfffffffeL, "gid %s is out of range", gid);
        checkArgument((mode & ~0777) == 0, "mode %s is not made of permission bits 0-0777",
                Integer.toOctalString(mode));
        checkNotNull(name, "name");
    }

    /** The owner, group and mode of the command line: no link, not once. */
    public static Access of(long uid, long gid, int mode) {
        return new Access(uid, gid, mode, Optional.empty(), false);
    }
}

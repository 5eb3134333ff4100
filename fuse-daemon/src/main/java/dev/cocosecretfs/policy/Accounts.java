// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.policy;

import java.util.OptionalLong;

/** Resolves user and group names to their ids (the system's: NSS, through getpwnam_r/getgrnam_r). */
public interface Accounts {
    /** The uid of user {@code name}, or empty if there is no such user. */
    OptionalLong uid(String name);

    /** The gid of group {@code name}, or empty if there is no such group. */
    OptionalLong gid(String name);
}

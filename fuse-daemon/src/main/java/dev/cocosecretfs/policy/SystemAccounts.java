// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.policy;

import java.util.OptionalLong;

/** The system's users and groups, as NSS gives them (getpwnam_r and getgrnam_r). */
public final class SystemAccounts implements Accounts {
    @Override
    public OptionalLong uid(String name) {
        throw new UnsupportedOperationException("not yet: getpwnam_r lands with the parser");
    }

    @Override
    public OptionalLong gid(String name) {
        throw new UnsupportedOperationException("not yet: getgrnam_r lands with the parser");
    }
}

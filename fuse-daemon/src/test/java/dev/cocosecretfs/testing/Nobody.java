// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.testing;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * The tests' one way to act as another user: uid and gid 65534 with no supplementary groups, through
 * setpriv (which execs, so the pid of what runs is the command's). Being root opens every door; a
 * check of who may do what needs a user it does not open them for.
 */
public final class Nobody {
    public static final int UID = 65534;
    public static final int GID = 65534;
    /** The prefix that runs a command as {@link #UID}; also for {@link CocoDaemon#mount}'s prefix. */
    public static final List<String> SETPRIV =
            List.of("setpriv", "--reuid=" + UID, "--regid=" + GID, "--clear-groups");

    private Nobody() {}

    /** {@code command} preceded by {@link #SETPRIV}. */
    public static List<String> command(List<String> command) {
        List<String> cmd = new ArrayList<>(SETPRIV);
        cmd.addAll(command);
        return cmd;
    }

    /** Runs {@code command} as {@link #UID} to completion. */
    public static Result run(String... command) throws IOException, InterruptedException {
        return Result.of(command(List.of(command)));
    }
}

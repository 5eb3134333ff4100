// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class DaemonTest {
    @Test
    void tooFewOpenFilesIsOneLine() {
        assertThatThrownBy(() -> Daemon.requireOpenFiles(8))
                .isInstanceOfSatisfying(CliException.class, e -> assertThat(e.exitCode()).isEqualTo(1))
                .hasMessage("the open-file limit (RLIMIT_NOFILE) is 8; the daemon needs at least 32"
                        + " (ulimit -n, LimitNOFILE=)");
    }

    @Test
    void enoughOpenFilesPasses() throws Exception {
        Daemon.requireOpenFiles(Daemon.MIN_OPEN_FILES);
        assertThat(Daemon.openFileLimit()).as("this JVM's own limit, from /proc/self/limits")
                .isGreaterThanOrEqualTo(Daemon.MIN_OPEN_FILES);
    }
}

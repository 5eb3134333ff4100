// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.fuse;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class OwnershipTest {
    @ParameterizedTest(name = "files {0} give a directory of {1}")
    @CsvSource({"0440, 0750", "0400, 0700", "0444, 0755", "0000, 0200", "0640, 0750", "0004, 0205"})
    void directoryModeFollowsTheFiles(String file, String dir) {
        assertThat(Integer.toOctalString(new Ownership(0, 0, Integer.parseInt(file, 8)).directoryMode()))
                .isEqualTo(Integer.toOctalString(Integer.parseInt(dir, 8)));
    }

    @ParameterizedTest
    @CsvSource({"-1, 0, 0440", "0, -1, 0440", "0, 0, 01440", "4294967295, 0, 0440"})
    void rejectsOutOfRange(long uid, long gid, String mode) {
        assertThatThrownBy(() -> new Ownership(uid, gid, Integer.parseInt(mode, 8)))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @ParameterizedTest(name = "files {0} with a policy in force give a directory of {1}")
    @CsvSource({"0440, 0755", "0400, 0755", "0000, 0255", "0600, 0755"})
    void aPolicyOpensTheDirectoryToItsOwners(String file, String dir) {
        assertThat(Integer.toOctalString(new Ownership(0, 0, Integer.parseInt(file, 8)).directoryMode(true)))
                .isEqualTo(Integer.toOctalString(Integer.parseInt(dir, 8)));
    }

    @ParameterizedTest(name = "--dir-mode {0} is kept as given, policy or not")
    @CsvSource({"1777", "0555", "0700", "1755"})
    void aSetDirectoryModeIsKept(String bits) {
        Ownership set = Ownership.DEFAULT.withDirectoryMode(Integer.parseInt(bits, 8));
        assertThat(Integer.toOctalString(set.directoryMode(true))).isEqualTo(Integer.toOctalString(
                Integer.parseInt(bits, 8)));
        assertThat(set.directoryMode(false)).isEqualTo(set.directoryMode(true));
    }

    @ParameterizedTest
    @CsvSource({"4755", "2755", "10000", "-1"})
    void rejectsDirectoryModesBeyondPermissionsAndSticky(String bits) {
        assertThatThrownBy(() -> Ownership.DEFAULT.withDirectoryMode(Integer.parseInt(bits, 8)))
                .isInstanceOf(IllegalArgumentException.class);
    }
}

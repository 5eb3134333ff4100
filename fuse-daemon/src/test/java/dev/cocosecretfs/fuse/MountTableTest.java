// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.fuse;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class MountTableTest {
    static final List<String> LINES = List.of(
            "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/vda rw",
            "40 22 0:35 / /run/coco rw,nosuid,nodev,relatime shared:5 - fuse.coco-secretfs coco-secretfs rw,user_id=0",
            "41 22 0:36 / /tmp/with\\040space rw,relatime - tmpfs tmpfs rw",
            "42 40 0:37 / /run/coco rw,relatime - fuse.other other rw");

    @Test
    void findsTheTopmostMountAtAPath() {
        assertThat(MountTable.find(LINES, Path.of("/run/coco")))
                .hasValue(new MountTable.Mount(Path.of("/run/coco"), "fuse.other"));
    }

    @Test
    void unescapesOctal() {
        assertThat(MountTable.find(LINES, Path.of("/tmp/with space"))).isPresent();
        assertThat(MountTable.unescape("a\\134b\\011c")).isEqualTo("a\\b\tc");
        assertThat(MountTable.unescape("trailing\\04")).isEqualTo("trailing\\04");
    }

    @Test
    void nothingMountedIsEmpty() {
        assertThat(MountTable.find(LINES, Path.of("/run/other"))).isEmpty();
    }
}

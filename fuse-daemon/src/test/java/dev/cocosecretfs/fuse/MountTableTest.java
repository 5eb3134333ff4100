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
        assertThat(MountTable.top(MountTable.parse(LINES), Path.of("/run/coco")))
                .hasValue(new MountTable.Mount(42, 40, "0:37", Path.of("/run/coco"), "fuse.other"));
    }

    @Test
    void theTopIsTheMountNothingCoversWhateverTheOrderOfLines() {
        List<String> reordered = List.of(LINES.get(3), LINES.get(0), LINES.get(1));
        assertThat(MountTable.top(MountTable.parse(reordered), Path.of("/run/coco")).map(MountTable.Mount::id))
                .hasValue(42L);
        assertThat(MountTable.top(MountTable.parse(LINES.subList(0, 2)), Path.of("/run/coco"))
                .map(MountTable.Mount::type)).hasValue("fuse.coco-secretfs");
    }

    @Test
    void unescapesOctal() {
        assertThat(MountTable.top(MountTable.parse(LINES), Path.of("/tmp/with space"))).isPresent();
        assertThat(MountTable.unescape("a\\134b\\011c")).isEqualTo("a\\b\tc");
        assertThat(MountTable.unescape("trailing\\04")).isEqualTo("trailing\\04");
    }

    @Test
    void nothingMountedThere() {
        assertThat(MountTable.top(MountTable.parse(LINES), Path.of("/run/other"))).isEmpty();
    }

    @Test
    void linesThatAreNotMountinfoAreSkipped() {
        assertThat(MountTable.parse(List.of("", "x y z", "a b 0:1 / /m rw - tmpfs t rw"))).isEmpty();
    }
}

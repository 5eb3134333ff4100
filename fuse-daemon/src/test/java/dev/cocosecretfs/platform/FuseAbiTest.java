// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.platform;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The struct offsets, sizes and table slots that FuseLowLevel and Operations write by hand are the
 * ones libfuse2's own headers give this machine's C compiler: fuse_abi.c prints them (from {@code
 * offsetof} and {@code sizeof}), and each must equal the Java constant of the same name. Needs gcc
 * and libfuse-dev, which {@code make check} installs.
 */
@DisplayName("libfuse2 ABI")
class FuseAbiTest {
    @TempDir
    Path tmp;

    @Test
    @DisplayName("every hand-written offset, size and ops slot matches libfuse's headers")
    void matchesTheHeaders() throws Exception {
        Map<String, Long> c = compileAndRun();
        Map<String, Long> java = javaConstants();
        List<String> compared = new ArrayList<>();
        for (Map.Entry<String, Long> e : c.entrySet()) {
            String name = e.getKey().startsWith("OP_") ? e.getKey().substring(3).toUpperCase(Locale.ROOT)
                    : e.getKey().equals("OPS_COUNT") ? "COUNT" : e.getKey();
            assertThat(java).as("a Java constant for %s", e.getKey()).containsKey(name);
            assertThat(java.get(name)).as("%s", e.getKey()).isEqualTo(e.getValue());
            compared.add(name);
        }
        // Nothing the Java side writes by hand is left out of the comparison.
        assertThat(compared).containsAll(java.keySet());
        assertThat(Operations.BYTES).as("the ops table's size").isEqualTo(c.get("OPS_COUNT") * 8);
    }

    private Map<String, Long> compileAndRun() throws IOException, InterruptedException {
        Path source = tmp.resolve("fuse_abi.c");
        try (InputStream in = FuseAbiTest.class.getResourceAsStream("fuse_abi.c")) {
            Files.copy(in, source);
        }
        Path binary = tmp.resolve("fuse_abi");
        assertThat(Path.of("/usr/include/fuse/fuse_lowlevel.h"))
                .as("libfuse's headers (apt-get install libfuse-dev; make check installs it)").exists();
        run(List.of("gcc", "-Wall", "-Werror", "-I/usr/include/fuse", "-D_FILE_OFFSET_BITS=64", "-o",
                binary.toString(), source.toString()));
        Map<String, Long> values = new LinkedHashMap<>();
        for (String line : run(List.of(binary.toString())).split("\n")) {
            String[] parts = line.trim().split(" ");
            values.put(parts[0], Long.parseLong(parts[1]));
        }
        assertThat(values).hasSizeGreaterThan(50);
        return values;
    }

    private static String run(List<String> command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("%s ends", command).isTrue();
        assertThat(p.exitValue()).as("%s: %s", command, out).isZero();
        return out;
    }

    /** The layout constants: FuseLowLevel's struct fields and sizes, Operations' slots, count and size. */
    private static Map<String, Long> javaConstants() throws IllegalAccessException {
        Map<String, Long> values = new LinkedHashMap<>();
        for (Class<?> type : new Class<?>[] {FuseLowLevel.class, Operations.class}) {
            for (Field f : type.getDeclaredFields()) {
                int m = f.getModifiers();
                boolean number = f.getType() == long.class || f.getType() == int.class;
                if (!Modifier.isStatic(m) || !Modifier.isFinal(m) || !number || f.getName().equals("EIO")
                        || f.getName().equals("RTLD_NOW")) {
                    continue;
                }
                f.setAccessible(true);
                values.put(f.getName(), ((Number) f.get(null)).longValue());
            }
        }
        Long bytes = values.remove("BYTES"); // the ops table's size: checked against the count
        assertThat(bytes).isEqualTo(Operations.BYTES);
        return values;
    }
}

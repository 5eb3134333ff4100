// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.platform;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

@DisplayName("ServiceJob")
class ServiceJobTest {
    static final String UNIT = "coco-secretfs.service";

    @Nested
    @DisplayName("finds its unit")
    class Unit {
        @Test
        @DisplayName("COCO_SECRETFS_UNIT wins over the cgroup")
        void variableWins() {
            assertThat(ServiceJob.unit(Map.of("COCO_SECRETFS_UNIT", "other.service"),
                    () -> "0::/system.slice/coco-secretfs.service\n")).contains("other.service");
        }

        @Test
        @DisplayName("an empty COCO_SECRETFS_UNIT is no name: the cgroup decides")
        void emptyVariable() {
            assertThat(ServiceJob.unit(Map.of("COCO_SECRETFS_UNIT", ""),
                    () -> "0::/system.slice/coco-secretfs.service\n")).contains(UNIT);
        }

        @ParameterizedTest(name = "{0}")
        @CsvSource(delimiter = '|', textBlock = """
                cgroup v2                        | 0::/system.slice/coco-secretfs.service                                  | coco-secretfs.service
                v2, a sub-cgroup of the service  | 0::/system.slice/coco-secretfs.service/payload                          | coco-secretfs.service
                v2, a user's service: the last   | 0::/user.slice/user-1000.slice/user@1000.service/app.slice/x.service    | x.service
                v1 only                          | 12:pids:/system.slice/a.service\\n1:name=systemd:/system.slice/coco-secretfs.service | coco-secretfs.service
                hybrid, v2 names it              | 1:name=systemd:/system.slice/b.service\\n0::/system.slice/coco-secretfs.service | coco-secretfs.service
                hybrid, v2 at the root           | 1:name=systemd:/system.slice/coco-secretfs.service\\n0::/               | coco-secretfs.service
                a path with a colon              | 0::/system.slice/a:b.service                                            | a:b.service
                """)
        void fromCgroup(String name, String text, String unit) {
            assertThat(ServiceJob.unitOfCgroup(text.replace("\\n", "\n"))).as(name).contains(unit);
        }

        @ParameterizedTest(name = "{0}")
        @CsvSource(delimiter = '|', textBlock = """
                a session scope      | 0::/user.slice/user-0.slice/session-3.scope
                the root             | 0::/
                only other v1 lines  | 4:memory:/system.slice/coco-secretfs.service
                a bare .service      | 0::/system.slice/.service
                no text              | ''
                """)
        void none(String name, String text) {
            assertThat(ServiceJob.unitOfCgroup(text)).as(name).isEmpty();
        }
    }

    @Nested
    @DisplayName("reads list-jobs")
    class Parse {
        @ParameterizedTest(name = "{0}")
        @CsvSource(delimiter = '|', textBlock = """
                a restart                 | 1234 coco-secretfs.service restart running                              | restart
                among others              | 7 a.service start waiting\\n8 coco-secretfs.service stop running\\n9 b.service restart waiting | stop
                padded columns            | '  42   coco-secretfs.service   try-restart   waiting  '                | try-restart
                """)
        void type(String name, String out, String type) {
            assertThat(ServiceJob.jobType(out.replace("\\n", "\n"), UNIT)).as(name).contains(type);
        }

        @ParameterizedTest(name = "{0}")
        @CsvSource(delimiter = '|', textBlock = """
                nothing queued            | ''
                another unit's restart    | 9 coco-secretfs-other.service restart waiting
                a prefix of our name      | 9 coco-secretfs restart waiting
                the legend                | JOB UNIT TYPE STATE
                a short line              | 9 coco-secretfs.service restart
                a text message            | No jobs running.
                """)
        void none(String name, String out) {
            assertThat(ServiceJob.jobType(out, UNIT)).as(name).isEmpty();
        }

        @ParameterizedTest
        @CsvSource({"restart, true", "try-restart, true", "start, false", "stop, false", "reload, false"})
        void restart(String type, boolean restart) {
            assertThat(ServiceJob.isRestart(type)).isEqualTo(restart);
        }
    }

    @Nested
    @DisplayName("runs systemctl")
    class Run {
        @TempDir
        Path tmp;

        Path script(String body) throws Exception {
            Path s = tmp.resolve("systemctl");
            Files.writeString(s, "#!/bin/sh\n" + body);
            Files.setPosixFilePermissions(s, PosixFilePermissions.fromString("rwx------"));
            return s;
        }

        Optional<String> ask(Map<String, String> env, String cgroup, Path script, Duration bound) {
            List<String> command = new java.util.ArrayList<>(List.of(script.toString()));
            command.addAll(ServiceJob.LIST_JOBS.subList(1, ServiceJob.LIST_JOBS.size()));
            return ServiceJob.queuedJob(env, () -> cgroup, command, bound);
        }

        @Test
        @DisplayName("returns our unit's job type; passes the arguments; hands on no descriptors or notify socket")
        void asks() throws Exception {
            Path args = tmp.resolve("args");
            Path env = tmp.resolve("env");
            Path s = script("echo \"$@\" > '" + args + "'\nenv > '" + env + "'\n"
                    + "echo '11 other.service restart waiting'\necho '12 coco-secretfs.service restart running'\n");
            Optional<String> type = ask(Map.of("LISTEN_FDS", "3", "LISTEN_PID", "1", "LISTEN_FDNAMES", "fuse",
                    "NOTIFY_SOCKET", "/run/systemd/notify", "KEPT", "yes"), "0::/system.slice/coco-secretfs.service\n", s,
                    ServiceJob.BOUND);
            assertThat(type).contains("restart");
            assertThat(Files.readString(args).trim()).isEqualTo("list-jobs --no-legend --plain --full");
            List<String> seen = Files.readAllLines(env);
            assertThat(seen).contains("KEPT=yes").noneMatch(l -> l.startsWith("LISTEN_") || l.startsWith("NOTIFY_SOCKET="));
        }

        @Test
        @DisplayName("the unit from COCO_SECRETFS_UNIT is the one looked up")
        void namedUnit() throws Exception {
            Path s = script("echo '11 other.service restart waiting'\necho '12 coco-secretfs.service stop running'\n");
            assertThat(ask(Map.of("COCO_SECRETFS_UNIT", "other.service"), "0::/system.slice/coco-secretfs.service\n", s,
                    ServiceJob.BOUND)).contains("restart");
        }

        @Test
        @DisplayName("no unit: systemctl is never run")
        void noUnitNoRun() throws Exception {
            Path ran = tmp.resolve("ran");
            Path s = script("touch '" + ran + "'\necho '12 coco-secretfs.service restart running'\n");
            assertThat(ask(Map.of(), "0::/user.slice/user-0.slice/session-3.scope\n", s, ServiceJob.BOUND)).isEmpty();
            assertThat(ran).doesNotExist();
            // The control: the same script with a unit does run.
            assertThat(ask(Map.of(), "0::/system.slice/coco-secretfs.service\n", s, ServiceJob.BOUND)).contains("restart");
            assertThat(ran).exists();
        }

        @Test
        @DisplayName("a non-zero exit is no job, whatever it printed")
        void failure() throws Exception {
            Path s = script("echo '12 coco-secretfs.service restart running'\nexit 1\n");
            assertThat(ask(Map.of(), "0::/system.slice/coco-secretfs.service\n", s, ServiceJob.BOUND)).isEmpty();
        }

        @Test
        @DisplayName("a systemctl that is missing is no job")
        void missing() {
            assertThat(ask(Map.of(), "0::/system.slice/coco-secretfs.service\n", tmp.resolve("absent"), ServiceJob.BOUND))
                    .isEmpty();
        }

        @Test
        @DisplayName("a systemctl that hangs is no job, and is killed")
        void hangs() throws Exception {
            Path pid = tmp.resolve("pid");
            // Prints our restart first: an answer that never ends is not trusted.
            Path s = script("echo '12 coco-secretfs.service restart running'\necho $$ > '" + pid + "'\nexec sleep 600\n");
            assertThat(ask(Map.of(), "0::/system.slice/coco-secretfs.service\n", s, Duration.ofMillis(500))).isEmpty();
            long hung = Long.parseLong(Files.readString(pid).trim());
            // Killed: gone once the JDK has reaped it (a bound, in case it was not killed).
            ProcessHandle.of(hung).ifPresent(h -> assertThat(h.onExit()).as("the hung systemctl exits")
                    .succeedsWithin(Duration.ofSeconds(30)));
        }
    }
}

// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.platform;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;

/**
 * The systemd job queued for the daemon's own unit, if any: what tells a SIGTERM that precedes a
 * restart (hand the mount over to the next daemon) from one that stops the service (unmount).
 *
 * <p>The unit is {@code $COCO_SECRETFS_UNIT} if set, else the last {@code .service} component of the
 * process's cgroup (systemd puts each service in a cgroup named after it). Without a unit there is
 * no job, and nothing is run. With one, {@code systemctl list-jobs} is asked, for at most
 * {@link #BOUND}: a SIGTERM must not wait on a manager that does not answer, and a job that cannot
 * be learnt is taken for a stop, which is what the daemon did before it could hand over.
 */
public final class ServiceJob {
    private static final System.Logger LOG = System.getLogger(ServiceJob.class.getName());

    /** The longest a SIGTERM waits for systemctl; well inside the unit's TimeoutStopSec. */
    static final Duration BOUND = Duration.ofSeconds(5);

    /** Lines of {@code ID UNIT TYPE STATE}, no header or footer, names never shortened. */
    static final List<String> LIST_JOBS = List.of("systemctl", "list-jobs", "--no-legend", "--plain", "--full");

    /** Names the unit explicitly, for tests and for a daemon whose cgroup does not say it. */
    static final String UNIT_VARIABLE = "COCO_SECRETFS_UNIT";

    /** More than any list of jobs: a systemctl gone wrong cannot fill the heap. */
    private static final int MAX_OUTPUT = 1 << 20;

    private ServiceJob() {}

    /** The type of the job queued for our unit ({@code restart}, {@code stop}, ...); empty if none or unknown. */
    public static Optional<String> queuedJob() {
        return queuedJob(System.getenv(), ServiceJob::ownCgroup, LIST_JOBS, BOUND);
    }

    /** True if systemd has a restart of our unit queued: the SIGTERM being handled is its stop half. */
    public static boolean restartQueued() {
        return queuedJob().filter(ServiceJob::isRestart).isPresent();
    }

    /**
     * {@link #queuedJob()} with the daemon's environment, its cgroup file's text and the command given:
     * the seams the tests use. The command runs with {@code env} minus the variables that hand
     * descriptors or the notify socket to a child.
     */
    static Optional<String> queuedJob(Map<String, String> env, Supplier<String> cgroup, List<String> command,
            Duration bound) {
        Optional<String> unit = unit(env, cgroup);
        if (unit.isEmpty()) {
            return Optional.empty();
        }
        return listJobs(env, command, bound).flatMap(out -> jobType(out, unit.get()));
    }

    /** Job types that stop the unit and start it again: restart, try-restart. */
    static boolean isRestart(String type) {
        return type.contains("restart");
    }

    /** The unit: $COCO_SECRETFS_UNIT if set and not empty, else from the cgroup. */
    static Optional<String> unit(Map<String, String> env, Supplier<String> cgroup) {
        String named = env.get(UNIT_VARIABLE);
        if (named != null && !named.isEmpty()) {
            return Optional.of(named);
        }
        return unitOfCgroup(cgroup.get());
    }

    /**
     * The last {@code .service} component of the cgroup path in the text of /proc/self/cgroup: the
     * unified hierarchy's line ({@code 0::/...}) if it names one, else the line of systemd's own v1
     * hierarchy ({@code N:name=systemd:/...}). A sub-cgroup of a service (Delegate=) still names it.
     */
    static Optional<String> unitOfCgroup(String text) {
        String unified = null;
        String systemd = null;
        for (String line : text.split("\n")) {
            // hierarchy-ID:controllers:path; the path may itself hold colons.
            String[] parts = line.split(":", 3);
            if (parts.length < 3) {
                continue;
            }
            if (parts[0].equals("0") && parts[1].isEmpty()) {
                unified = parts[2];
            } else if (parts[1].equals("name=systemd")) {
                systemd = parts[2];
            }
        }
        Optional<String> unit = unified == null ? Optional.empty() : lastService(unified);
        return unit.isPresent() || systemd == null ? unit : lastService(systemd);
    }

    private static Optional<String> lastService(String path) {
        String found = null;
        for (String component : path.split("/")) {
            if (component.endsWith(".service") && component.length() > ".service".length()) {
                found = component;
            }
        }
        return Optional.ofNullable(found);
    }

    /** The TYPE of the line of {@code systemctl list-jobs --no-legend --plain} whose UNIT is {@code unit}. */
    static Optional<String> jobType(String listJobs, String unit) {
        for (String line : listJobs.split("\n")) {
            String[] fields = line.trim().split("\\s+");
            if (fields.length >= 4 && fields[0].chars().allMatch(Character::isDigit) && fields[1].equals(unit)) {
                return Optional.of(fields[2]);
            }
        }
        return Optional.empty();
    }

    private static String ownCgroup() {
        try {
            return Files.readString(Path.of("/proc/self/cgroup"), StandardCharsets.UTF_8);
        } catch (IOException e) {
            LOG.log(System.Logger.Level.DEBUG, "no /proc/self/cgroup: {0}", e.toString());
            return "";
        }
    }

    /** The command's stdout if it exits 0 within the bound; else empty, after killing it and its children. */
    private static Optional<String> listJobs(Map<String, String> env, List<String> command, Duration bound) {
        ProcessBuilder pb = new ProcessBuilder(command).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectError(ProcessBuilder.Redirect.DISCARD);
        Map<String, String> childEnv = pb.environment();
        childEnv.clear();
        childEnv.putAll(env);
        // The descriptors of the fd store and the notify socket are the daemon's, not systemctl's.
        childEnv.keySet().removeIf(k -> k.startsWith("LISTEN_") || k.equals("NOTIFY_SOCKET"));
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "cannot run {0}: {1}; taking SIGTERM for a stop", command.get(0),
                    e.getMessage());
            return Optional.empty();
        }
        InputStream stdout = p.getInputStream();
        FutureTask<byte[]> output = new FutureTask<>(() -> stdout.readNBytes(MAX_OUTPUT));
        Thread reader = new Thread(output, "systemctl list-jobs");
        reader.setDaemon(true); // a grandchild holding the pipe open must not keep the JVM from exiting
        reader.start();
        long deadline = System.nanoTime() + bound.toNanos();
        try {
            if (!p.waitFor(bound.toNanos(), TimeUnit.NANOSECONDS)) {
                LOG.log(System.Logger.Level.WARNING, "{0} did not answer within {1} ms; taking SIGTERM for a stop",
                        String.join(" ", command), bound.toMillis());
                return Optional.empty();
            }
            byte[] bytes = output.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            if (p.exitValue() != 0) {
                LOG.log(System.Logger.Level.WARNING, "{0} exited with {1}; taking SIGTERM for a stop",
                        String.join(" ", command), p.exitValue());
                return Optional.empty();
            }
            return Optional.of(new String(bytes, StandardCharsets.UTF_8));
        } catch (TimeoutException e) {
            LOG.log(System.Logger.Level.WARNING, "{0} kept its output open past {1} ms; taking SIGTERM for a stop",
                    String.join(" ", command), bound.toMillis());
            return Optional.empty();
        } catch (ExecutionException e) {
            LOG.log(System.Logger.Level.WARNING, "reading {0}: {1}; taking SIGTERM for a stop", String.join(" ", command),
                    e.getCause().toString());
            return Optional.empty();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        } finally {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            try {
                stdout.close();
            } catch (IOException ignored) {
                // nothing more is read from it
            }
        }
    }
}

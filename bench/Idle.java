// SPDX-License-Identifier: Apache-2.0

/**
 * A JVM that does nothing: the benchmark starts it through the launcher, with the launcher's JVM
 * options and class-data archive, to show the resident memory and the wake-ups that any daemon on
 * that JVM pays before its first line of code. The main thread sleeps until the process is killed.
 */
public final class Idle {
    private Idle() {}

    public static void main(String[] args) throws InterruptedException {
        Thread.sleep(Long.MAX_VALUE);
    }
}

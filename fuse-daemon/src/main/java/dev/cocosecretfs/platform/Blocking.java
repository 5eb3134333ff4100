// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.platform;

/**
 * Lets code that is about to wait say so to the thread it runs on. The FUSE loop's workers use it:
 * the one worker that takes requests from the kernel answers the quick ones itself, and when an
 * answer may wait (a wipe that syncs the backing, a lock another request holds) it first hands the
 * taking of requests to another worker, so that one slow request never holds up the rest.
 */
public final class Blocking {

    /** A thread that wants to know before the code it runs waits. */
    public interface Aware {
        /** Called on this thread just before it may wait. */
        void beforeBlocking();
    }

    private Blocking() {}

    /** Tells the current thread, if it asked to know, that it may wait now. */
    public static void ahead() {
        if (Thread.currentThread() instanceof Aware aware) {
            aware.beforeBlocking();
        }
    }
}

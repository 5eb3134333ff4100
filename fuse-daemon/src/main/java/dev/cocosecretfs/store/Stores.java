// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.store;

import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * Opens the right store for a path: a regular file or a block device holding a page (synced with
 * {@code fdatasync}), or the shim's device (see {@link FdStore#open}).
 */
public final class Stores {
    private Stores() {}

    /**
     * Opens {@code path} for reading and, where allowed, wiping.
     *
     * @throws java.nio.file.NoSuchFileException if nothing is there
     * @throws FileSystemException if it is a directory or some other kind of file
     * @throws java.nio.file.AccessDeniedException if it cannot be read
     */
    public static BackingStore open(Path path) throws IOException {
        BasicFileAttributes attrs = FdStore.attributes(path);
        int type = attrs.isRegularFile() ? FdStore.S_IFREG
                : (Integer) Files.getAttribute(path, "unix:mode") & FdStore.S_IFMT;
        if (type != FdStore.S_IFREG && type != FdStore.S_IFBLK && type != FdStore.S_IFCHR) {
            // Checked before opening too: opening a FIFO for reading would wait for a writer.
            throw new FileSystemException(path.toString(), null, "is neither a regular file nor a device");
        }
        return FdStore.open(path);
    }
}

// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.store;

import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;

/** Opens the right store for a path: a regular file holding a page, or the shim's device. */
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
        if (attrs.isRegularFile()) {
            return new FileStore(path);
        }
        if (attrs.isOther()) {
            return new DeviceStore(path);
        }
        throw new FileSystemException(path.toString(), null, "is neither a regular file nor a device");
    }
}

// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.fuse;

import java.io.IOException;

/** The filesystem could not be mounted; the message says why and where. */
public final class MountException extends IOException {
    private static final long serialVersionUID = 1L;

    public MountException(String message) {
        super(message);
    }
}

// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.secrets;

import dev.cocosecretfs.table.Guid;

/**
 * A secret of a {@link SecretDirectory}: which entry of its table it is. A small value made for each
 * lookup, so that the directory holds no object per secret; it holds no secret bytes.
 */
public final class Secret {
    private final int index;
    private final Guid guid;
    private final long length;

    Secret(int index, Guid guid, long length) {
        this.index = index;
        this.guid = guid;
        this.length = length;
    }

    /** The file name: the GUID, lowercase with dashes. */
    public String name() {
        return guid.toString();
    }

    /** Length of the secret in bytes. */
    public long length() {
        return length;
    }

    /**
     * The index of its entry in the directory's table. An entry keeps its place for the life of the
     * page (a wipe zeroes it in place), so this names the same secret for every reader of the page.
     */
    public int index() {
        return index;
    }

    Guid guid() {
        return guid;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Secret s && s.index == index && s.guid.equals(guid);
    }

    @Override
    public int hashCode() {
        return index;
    }

    @Override
    public String toString() {
        return "secret " + guid + " (" + length + " bytes)";
    }
}

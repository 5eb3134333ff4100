// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.testing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cocosecretfs.store.BackingStore;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.Proxy;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * {@link ForwardingStore} hands every call of {@link BackingStore} to the real store as it came, so
 * that a test which overrides one step runs the real store's code for all the others: a method left
 * to the interface's default (the combined header-and-data {@code readInto}, {@code writable}) would
 * run the default's code instead, and the tests that use it would never reach the real store's own.
 */
@DisplayName("forwarding store")
class ForwardingStoreTest {
    /** A call the real store saw. */
    record Call(Method method, List<Object> arguments) {}

    /** What the real store answers, by return type: values no default would give. */
    static final Map<Class<?>, Object> ANSWERS = Map.of(long.class, 4242L, boolean.class, false, String.class,
            "the real store");

    @Test
    @DisplayName("every method of BackingStore but close reaches the real store once, with the same arguments and answer")
    void forwardsEveryMethod() throws Exception {
        List<Call> calls = new ArrayList<>();
        BackingStore real = (BackingStore) Proxy.newProxyInstance(BackingStore.class.getClassLoader(),
                new Class<?>[] {BackingStore.class}, (proxy, method, args) -> {
                    calls.add(new Call(method, args == null ? List.of() : Arrays.asList(args)));
                    return ANSWERS.get(method.getReturnType());
                });
        ForwardingStore store = new ForwardingStore(real);
        List<String> checked = new ArrayList<>();
        for (Method method : BackingStore.class.getMethods()) {
            if (Modifier.isStatic(method.getModifiers())) {
                continue;
            }
            calls.clear();
            Object[] args = Arrays.stream(method.getParameterTypes()).map(ForwardingStoreTest::argument).toArray();
            Object answer = method.invoke(store, args);
            if (method.getName().equals("close")) {
                assertThat(calls).as("close leaves the real store open: the test owns it").isEmpty();
            } else {
                assertThat(calls).as("what the real store saw of %s", method)
                        .containsExactly(new Call(method, Arrays.asList(args)));
                assertThat(answer).as("the answer of %s", method).isEqualTo(ANSWERS.get(method.getReturnType()));
            }
            checked.add(method.getName());
        }
        // The check above covers whatever BackingStore declares; these are the ones it had when written.
        assertThat(checked).contains("size", "readMetadata", "readInto", "wipe", "writable", "sync", "describe",
                "close");
        assertThat(checked).filteredOn("readInto"::equals).hasSize(2);
    }

    /** A value of {@code type} that the forwarded call must pass on as it is. */
    static Object argument(Class<?> type) {
        if (type == long.class) {
            return 7L;
        }
        if (type == int.class) {
            return 3;
        }
        if (type == ByteBuffer.class) {
            return ByteBuffer.allocate(1);
        }
        if (type == byte[].class) {
            return new byte[2];
        }
        throw new AssertionError("BackingStore has a method taking a " + type + ": give this test a value of it");
    }
}

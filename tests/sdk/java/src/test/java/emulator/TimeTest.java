package emulator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.microsoft.durabletask.*;
import durabletask.emulator.v1.Control.AdvanceTimeRequest;
import durabletask.emulator.v1.Control.GetTimeRequest;
import durabletask.emulator.v1.Control.ResetTaskHubRequest;
import durabletask.emulator.v1.Control.SetTimeSkippingRequest;
import durabletask.emulator.v1.Control.TimeResponse;
import durabletask.emulator.v1.EmulatorControlGrpc;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Control of time: each task hub's clock, time skipping while a client waits, AdvanceTime (tests/test_time.py in Java).
 *
 * <p>The emulator's {@code EmulatorControl} service is called through a client that Maven generates at build time
 * from the emulator's own control.proto (protobuf-maven-plugin in pom.xml): {@code EmulatorControlGrpc}. Every
 * scenario runs on a task hub of its own, with its own worker and client (the {@code taskhub} header, as in
 * TaskHubTest), so turning skipping on or moving a clock never touches the default hub of ScenariosTest. Wall time is
 * only ever read to show that days of orchestration time passed in seconds; no scenario waits for a timer in real time.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class TimeTest {
    static final Duration WAIT = Duration.ofSeconds(20);
    static final Duration THIRTY_DAYS = Duration.ofDays(30);
    static final long DAY = 86400;
    static ManagedChannel controlChannel;
    static EmulatorControlGrpc.EmulatorControlBlockingStub control;

    /** Call counters of the "Flaky" activity, one per key (the scenario's hub). */
    static final Map<String, AtomicInteger> calls = new ConcurrentHashMap<>();

    @BeforeAll
    static void connect() {
        int port = Integer.parseInt(System.getenv("DTEMU_PORT"));
        controlChannel = ManagedChannelBuilder.forAddress("localhost", port).usePlaintext().build();
        control = EmulatorControlGrpc.newBlockingStub(controlChannel);
    }

    @AfterAll
    static void disconnect() throws InterruptedException {
        TaskHubTest.shutdown(controlChannel);
    }

    // ------------------------------------------------------------------ the control service

    static TimeResponse getTime(String hub) {
        return control.getTime(GetTimeRequest.newBuilder().setTaskHub(hub).build());
    }

    static TimeResponse advanceTime(String hub, Duration by) {
        // protobuf's seconds and nanos carry the same sign; java.time's nanos are never negative
        long seconds = by.getSeconds();
        int nanos = by.getNano();
        if (seconds < 0 && nanos > 0) {
            seconds += 1;
            nanos -= 1_000_000_000;
        }
        com.google.protobuf.Duration duration = com.google.protobuf.Duration.newBuilder().setSeconds(seconds).setNanos(nanos).build();
        return control.advanceTime(AdvanceTimeRequest.newBuilder().setTaskHub(hub).setDuration(duration).build());
    }

    static TimeResponse setTimeSkipping(String hub, boolean enabled) {
        return control.setTimeSkipping(SetTimeSkippingRequest.newBuilder().setTaskHub(hub).setEnabled(enabled).build());
    }

    static Instant instant(com.google.protobuf.Timestamp t) {
        return Instant.ofEpochSecond(t.getSeconds(), t.getNanos());
    }

    static Duration duration(com.google.protobuf.Duration d) {
        return Duration.ofSeconds(d.getSeconds(), d.getNanos());
    }

    // ------------------------------------------------------------------ orchestrations and activities

    static DurableTaskGrpcWorkerBuilder everything(DurableTaskGrpcWorkerBuilder builder) {
        return builder
            // SDK 1.5.0 splits a timer longer than maximumTimerInterval (default 3 days) into a chain of shorter ones,
            // but its TimerTask completes when the FIRST of them fires (the rest of the chain is not awaited): with
            // the default, createTimer(30 days).await() returns after 3 days. The emulator has no limit on a timer.
            .maximumTimerInterval(Duration.ofDays(365))
            .addActivity(ScenariosTest.activity("SleepOneSecond", ctx -> {
                try {
                    Thread.sleep(1000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted");
                }
                return "slept for real";
            }))
            .addActivity(ScenariosTest.activity("Flaky", ctx -> {  // fails until its third call
                int n = calls.computeIfAbsent(ctx.getInput(String.class), k -> new AtomicInteger()).incrementAndGet();
                if (n < 3) throw new IllegalStateException("attempt " + n + " fails");
                return n;
            }))
            .addOrchestration(ScenariosTest.orchestration("ThirtyDays", ctx -> {
                Instant start = ctx.getCurrentInstant();
                ctx.createTimer(THIRTY_DAYS).await();
                ctx.complete(Duration.between(start, ctx.getCurrentInstant()).getSeconds());
            }))
            .addOrchestration(ScenariosTest.orchestration("EventOrHour", ctx -> {
                Task<Void> timer = ctx.createTimer(Duration.ofHours(1));
                Task<String> event = ctx.waitForExternalEvent("go", String.class);
                ctx.complete(ctx.anyOf(timer, event).await() == event ? "event" : "timer");
            }))
            .addOrchestration(ScenariosTest.orchestration("ActivityOrHour", ctx -> {
                Task<Void> timer = ctx.createTimer(Duration.ofHours(1));
                Task<String> work = ctx.callActivity("SleepOneSecond", null, String.class);
                ctx.complete(ctx.anyOf(timer, work).await() == work ? work.await() : "timer");
            }))
            .addOrchestration(ScenariosTest.orchestration("RetriesHourly", ctx -> {
                TaskOptions hourly = new TaskOptions(new RetryPolicy(5, Duration.ofHours(1)));
                Instant start = ctx.getCurrentInstant();
                int attempts = ctx.callActivity("Flaky", ctx.getInput(String.class), hourly, Integer.class).await();
                ctx.complete(List.of((long) attempts, Duration.between(start, ctx.getCurrentInstant()).getSeconds()));
            }))
            .addOrchestration(ScenariosTest.orchestration("TwoHours", ctx -> {
                ctx.createTimer(Duration.ofHours(2)).await();
                ctx.complete("fired");
            }))
            .addOrchestration(ScenariosTest.orchestration("NowOf", ctx -> ctx.complete(ctx.getCurrentInstant().toString())));
    }

    /**
     * A task hub of the scenario's own (unique per run), with a worker and a client on it; closing resets the hub.
     *
     * <p>The worker runs {@code startAndBlock} on a thread of ours: in SDK 1.5.0 {@code stop()} only shuts a channel
     * the worker made itself, and the thread of {@code start()} would go on retrying a closed channel every 5 s.
     * Interrupting ours ends it (its gRPC stream is cancelled, its retry sleep is cut short).
     */
    static final class Hub implements AutoCloseable {
        final String name;
        final ManagedChannel channel;
        final DurableTaskGrpcWorker worker;
        final Thread workerThread;
        final DurableTaskClient client;

        Hub(String label, boolean skipping) {
            name = "java-time-" + label + "-" + UUID.randomUUID();
            // Set before the hub's first instance, explicitly both ways: a hub is created on first use.
            assertEquals(skipping, setTimeSkipping(name, skipping).getTimeSkipping());
            int port = Integer.parseInt(System.getenv("DTEMU_PORT"));
            channel = ManagedChannelBuilder.forAddress("localhost", port).usePlaintext().build();
            worker = everything(new DurableTaskGrpcWorkerBuilder().grpcChannel(TaskHubTest.onTaskHub(channel, name))).build();
            workerThread = new Thread(worker::startAndBlock, "worker-" + name);
            workerThread.setDaemon(true);
            workerThread.start();
            client = new DurableTaskGrpcClientBuilder().grpcChannel(TaskHubTest.onTaskHub(channel, name)).build();
        }

        String start(String orchestration, Object input) {
            return client.scheduleNewOrchestrationInstance(orchestration, input, "java-time-" + UUID.randomUUID());
        }

        @Override
        public void close() throws InterruptedException {
            try {
                workerThread.interrupt();
                worker.stop();
                client.close();
                TaskHubTest.shutdown(channel);
                workerThread.join(5000);
            } finally {
                control.resetTaskHub(ResetTaskHubRequest.newBuilder().setTaskHub(name).build());
            }
        }
    }

    // ------------------------------------------------------------------ scenarios

    @Test
    void timeSkipping__thirtyDayTimerCompletesInSecondsWithTheClockThirtyDaysOn() throws Exception {
        try (Hub hub = new Hub("month", true)) {
            long wallStart = System.nanoTime();
            String id = hub.start("ThirtyDays", null);
            OrchestrationMetadata done = hub.client.waitForInstanceCompletion(id, WAIT, true);
            long wallMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - wallStart);
            System.out.println("[time-skipping] a 30-day timer completed in " + wallMillis + " ms of wall time");
            assertEquals(OrchestrationRuntimeStatus.COMPLETED, done.getRuntimeStatus(), "status");
            long elapsed = done.readOutputAs(Long.class);
            assertTrue(elapsed >= 30 * DAY, "the orchestration's clock moved only " + elapsed + " s");
            assertTrue(wallMillis < 15_000, "a 30-day timer took " + wallMillis + " ms of wall time");
            Instant hubNow = instant(getTime(hub.name).getNow());
            Instant expected = Instant.now().plus(THIRTY_DAYS).minus(Duration.ofMinutes(1));
            assertTrue(!hubNow.isBefore(expected), "the hub's clock is at " + hubNow + ", not 30 days on");
            // every timestamp the hub reports moved with its clock
            assertTrue(done.getLastUpdatedAt().isAfter(Instant.now().plus(Duration.ofDays(29))), "lastUpdatedAt " + done.getLastUpdatedAt());
        }
    }

    @Test
    void timeSkipping__anEventRaisedBeforeTheWaitBeatsAnHourTimer() throws Exception {
        try (Hub hub = new Hub("race", true)) {
            String id = hub.start("EventOrHour", null);
            hub.client.raiseEvent(id, "go", "now");
            assertEquals("event", hub.client.waitForInstanceCompletion(id, WAIT, true).readOutputAs(String.class));
        }
    }

    @Test
    void timeSkipping__noJumpWhileAnActivityRuns() throws Exception {
        try (Hub hub = new Hub("busy", true)) {
            String id = hub.start("ActivityOrHour", null);
            assertEquals("slept for real", hub.client.waitForInstanceCompletion(id, WAIT, true).readOutputAs(String.class));
        }
    }

    @Test
    void timeSkipping__retryWithAnHoursBackoffCompletes() throws Exception {
        try (Hub hub = new Hub("retry", true)) {
            String id = hub.start("RetriesHourly", hub.name);
            OrchestrationMetadata done = hub.client.waitForInstanceCompletion(id, WAIT, true);
            assertEquals(OrchestrationRuntimeStatus.COMPLETED, done.getRuntimeStatus(), "failure: " + done.getFailureDetails());
            long[] result = done.readOutputAs(long[].class);
            assertEquals(3, result[0], "attempts");
            // two backoffs of at least an hour, skipped
            assertTrue(result[1] >= 2 * 3600, "the orchestration's clock moved only " + result[1] + " s");
        }
    }

    @Test
    void timeSkipping__aStartAWeekAheadRuns() throws Exception {
        try (Hub hub = new Hub("next-week", true)) {
            // in whole milliseconds: the SDK truncates the timestamps it receives (getCurrentInstant) to them
            Instant week = Instant.now().plus(Duration.ofDays(7)).truncatedTo(ChronoUnit.MILLIS);
            String id = hub.client.scheduleNewOrchestrationInstance("NowOf",
                new NewOrchestrationInstanceOptions().setInstanceId("java-time-" + UUID.randomUUID()).setStartTime(week));
            OrchestrationMetadata done = hub.client.waitForInstanceCompletion(id, WAIT, true);
            assertEquals(OrchestrationRuntimeStatus.COMPLETED, done.getRuntimeStatus(), "status");
            Instant ran = Instant.parse(done.readOutputAs(String.class));
            assertTrue(!ran.isBefore(week), "ran at " + ran + ", before its start time " + week);
        }
    }

    @Test
    void timeSkipping__advanceFiresATimerWithNobodyWaiting() throws Exception {
        try (Hub hub = new Hub("advanced", false)) {
            String id = hub.start("TwoHours", null);
            // RUNNING once the worker's first response is applied, which created the timer.
            OrchestrationMetadata started = hub.client.waitForInstanceStart(id, WAIT);
            assertEquals(OrchestrationRuntimeStatus.RUNNING, started.getRuntimeStatus(), "status");
            TimeResponse before = getTime(hub.name);
            TimeResponse after = advanceTime(hub.name, Duration.ofHours(2));
            assertTrue(after.getTaskHub().equals(hub.name) && !after.getTimeSkipping(), "reply " + after);
            Duration moved = Duration.between(instant(before.getNow()), instant(after.getNow()));
            assertTrue(moved.compareTo(Duration.ofHours(2)) >= 0, "the clock moved only " + moved);
            assertTrue(duration(after.getOffset()).compareTo(Duration.ofHours(2)) >= 0, "offset " + duration(after.getOffset()));
            assertEquals("fired", hub.client.waitForInstanceCompletion(id, WAIT, true).readOutputAs(String.class));
        }
    }

    @Test
    void timeSkipping__twoHubsSkipIndependently() throws Exception {
        try (Hub fast = new Hub("fast", true); Hub slow = new Hub("slow", false)) {
            String slowId = slow.start("ThirtyDays", null);
            String fastId = fast.start("ThirtyDays", null);
            assertThrows(TimeoutException.class, () -> slow.client.waitForInstanceCompletion(slowId, Duration.ofSeconds(1), false));
            assertEquals(OrchestrationRuntimeStatus.COMPLETED, fast.client.waitForInstanceCompletion(fastId, WAIT, false).getRuntimeStatus());
            assertEquals(OrchestrationRuntimeStatus.RUNNING, slow.client.getInstanceMetadata(slowId, false).getRuntimeStatus());
            Duration apart = Duration.between(instant(getTime(slow.name).getNow()), instant(getTime(fast.name).getNow()));
            assertTrue(apart.compareTo(Duration.ofDays(29)) >= 0, "the hubs' clocks are only " + apart + " apart");
            // the default hub kept its own time too
            assertTrue(instant(getTime("default").getNow()).isBefore(instant(getTime(fast.name).getNow())), "the default hub skipped");
        }
    }

    @Test
    void timeSkipping__skippingOffKeepsRealTime() throws Exception {
        try (Hub hub = new Hub("real-time", false)) {
            String id = hub.start("TwoHours", null);
            assertThrows(TimeoutException.class, () -> hub.client.waitForInstanceCompletion(id, Duration.ofSeconds(1), false));
            assertEquals(OrchestrationRuntimeStatus.RUNNING, hub.client.getInstanceMetadata(id, false).getRuntimeStatus());
            Duration offset = duration(getTime(hub.name).getOffset()).abs();
            assertTrue(offset.compareTo(Duration.ofSeconds(5)) < 0, "the hub's clock is " + offset + " off the wall clock");
        }
    }

    @Test
    void timeSkipping__advanceTimeOnlyMovesForward() throws Exception {
        String hub = "java-time-backwards-" + UUID.randomUUID();
        try {
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> advanceTime(hub, Duration.ofSeconds(-5)));
            assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode(), "status " + e.getStatus());
            String description = String.valueOf(e.getStatus().getDescription());
            assertTrue(description.contains("only moves forward"), "description: " + description);
            assertTrue(duration(getTime(hub).getOffset()).compareTo(Duration.ofSeconds(5)) < 0, "the clock moved anyway");
        } finally {
            control.resetTaskHub(ResetTaskHubRequest.newBuilder().setTaskHub(hub).build());
        }
    }
}

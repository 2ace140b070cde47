package emulator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.microsoft.durabletask.*;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The Java Durable Task SDK's features against the emulator at localhost:$DTEMU_PORT. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ScenariosTest {
    static final Duration WAIT = Duration.ofSeconds(30);
    static DurableTaskGrpcWorker worker;
    static DurableTaskClient client;
    static final AtomicInteger flakyCalls = new AtomicInteger();

    static TaskOrchestrationFactory orchestration(String name, TaskOrchestration body) {
        return new TaskOrchestrationFactory() {
            public String getName() { return name; }
            public TaskOrchestration create() { return body; }
        };
    }

    static TaskActivityFactory activity(String name, TaskActivity body) {
        return new TaskActivityFactory() {
            public String getName() { return name; }
            public TaskActivity create() { return body; }
        };
    }

    @BeforeAll
    static void start() {
        int port = Integer.parseInt(System.getenv("DTEMU_PORT"));
        worker = new DurableTaskGrpcWorkerBuilder().port(port)
            .addActivity(activity("Hello", ctx -> "Hello, " + ctx.getInput(String.class) + "!"))
            .addActivity(activity("AddOne", ctx -> ctx.getInput(Integer.class) + 1))
            .addActivity(activity("Boom", ctx -> { throw new IllegalStateException("boom from activity"); }))
            .addActivity(activity("Flaky", ctx -> {
                if (flakyCalls.incrementAndGet() < 3) throw new RuntimeException("not yet");
                return "third time lucky";
            }))
            .addOrchestration(orchestration("HelloOrchestration", ctx ->
                ctx.complete(ctx.callActivity("Hello", ctx.getInput(String.class), String.class).await())))
            .addOrchestration(orchestration("Chain", ctx -> {
                int value = ctx.getInput(Integer.class);
                for (int i = 0; i < 5; i++) value = ctx.callActivity("AddOne", value, Integer.class).await();
                ctx.complete(value);
            }))
            .addOrchestration(orchestration("FanOut", ctx -> {
                List<Task<Integer>> tasks = new ArrayList<>();
                for (int i = 0; i < 100; i++) tasks.add(ctx.callActivity("AddOne", i, Integer.class));
                ctx.complete(ctx.allOf(tasks).await().stream().mapToInt(Integer::intValue).sum());
            }))
            .addOrchestration(orchestration("Parent", ctx -> {
                // SDK 1.5.0 needs TaskOptions with an explicit instance ID (a null one throws)
                TaskOptions once = new TaskOptions(new RetryPolicy(1, Duration.ofSeconds(1)));
                ctx.complete(ctx.callSubOrchestrator("Chain", 10, ctx.getInstanceId() + "-child", once, Integer.class).await());
            }))
            .addOrchestration(orchestration("FailingChild", ctx -> { throw new IllegalArgumentException("child broke"); }))
            .addOrchestration(orchestration("ParentOfFailing", ctx -> {
                try {
                    ctx.callSubOrchestrator("FailingChild", null, String.class).await();
                    ctx.complete("no failure?");
                } catch (TaskFailedException e) {
                    FailureDetails d = e.getErrorDetails();
                    ctx.complete(d.getErrorType() + ": " + d.getErrorMessage());
                }
            }))
            .addOrchestration(orchestration("TwoEvents", ctx -> {
                String b = ctx.waitForExternalEvent("b", String.class).await();
                String a = ctx.waitForExternalEvent("a", String.class).await();  // raised before this wait
                ctx.complete(a + b);
            }))
            .addOrchestration(orchestration("EventWithTimeout", ctx -> {
                try {
                    ctx.waitForExternalEvent("never", Duration.ofMillis(500), String.class).await();
                    ctx.complete("event");
                } catch (TaskCanceledException e) {
                    ctx.complete("timed out");
                }
            }))
            .addOrchestration(orchestration("Timer", ctx -> {
                Instant before = ctx.getCurrentInstant();
                ctx.createTimer(Duration.ofSeconds(2)).await();
                ctx.complete(Duration.between(before, ctx.getCurrentInstant()).toMillis());
            }))
            .addOrchestration(orchestration("Counter", ctx -> {
                int n = ctx.getInput(Integer.class);
                if (n < 3) ctx.continueAsNew(n + 1);
                else ctx.complete(n);
            }))
            .addOrchestration(orchestration("CallsBoom", ctx -> ctx.complete(ctx.callActivity("Boom", null, String.class).await())))
            .addOrchestration(orchestration("Retries", ctx -> {
                TaskOptions options = new TaskOptions(new RetryPolicy(4, Duration.ofMillis(100)));
                ctx.complete(ctx.callActivity("Flaky", null, options, String.class).await());
            }))
            .addOrchestration(orchestration("Waits", ctx -> {
                ctx.setCustomStatus("waiting");
                ctx.complete(ctx.waitForExternalEvent("go", String.class).await());
            }))
            .addOrchestration(orchestration("Sender", ctx -> {
                ctx.sendEvent(ctx.getInput(String.class), "go", "sent by an orchestration");
                ctx.complete("sent");
            }))
            .build();
        worker.start();
        client = new DurableTaskGrpcClientBuilder().port(port).build();
    }

    @AfterAll
    static void stop() throws Exception {
        worker.stop();
        client.close();
    }

    static OrchestrationMetadata run(String name, Object input) throws Exception {
        String id = client.scheduleNewOrchestrationInstance(name, input);
        return client.waitForInstanceCompletion(id, WAIT, true);
    }

    @Test
    void activity() throws Exception {
        OrchestrationMetadata m = run("HelloOrchestration", "Java");
        assertEquals(OrchestrationRuntimeStatus.COMPLETED, m.getRuntimeStatus());
        assertEquals("Hello, Java!", m.readOutputAs(String.class));
    }

    @Test
    void chain() throws Exception {
        assertEquals(15, run("Chain", 10).readOutputAs(Integer.class));
    }

    @Test
    void fanOutFanIn() throws Exception {
        assertEquals(5050, run("FanOut", null).readOutputAs(Integer.class));
    }

    @Test
    void subOrchestration() throws Exception {
        String id = client.scheduleNewOrchestrationInstance("Parent");
        assertEquals(15, client.waitForInstanceCompletion(id, WAIT, true).readOutputAs(Integer.class));
        assertEquals(OrchestrationRuntimeStatus.COMPLETED, client.getInstanceMetadata(id + "-child", false).getRuntimeStatus());
    }

    @Test
    void failingChildDetailsReachParent() throws Exception {
        String output = run("ParentOfFailing", null).readOutputAs(String.class);
        assertTrue(output.contains("IllegalArgumentException"), output);
        assertTrue(output.contains("child broke"), output);
    }

    @Test
    void externalEventsBeforeAndAfterTheWait() throws Exception {
        String id = client.scheduleNewOrchestrationInstance("TwoEvents");
        client.waitForInstanceStart(id, WAIT);
        client.raiseEvent(id, "a", "early-");
        client.raiseEvent(id, "b", "late");
        assertEquals("early-late", client.waitForInstanceCompletion(id, WAIT, true).readOutputAs(String.class));
    }

    @Test
    void externalEventTimeout() throws Exception {
        assertEquals("timed out", run("EventWithTimeout", null).readOutputAs(String.class));
    }

    @Test
    void durableTimerWaitsItsTime() throws Exception {
        long started = System.nanoTime();
        long orchestrationMillis = run("Timer", null).readOutputAs(Long.class);
        assertTrue(orchestrationMillis >= 2000, "orchestration clock moved " + orchestrationMillis + " ms");
        assertTrue(System.nanoTime() - started >= 2_000_000_000L);
    }

    @Test
    void continueAsNew() throws Exception {
        assertEquals(3, run("Counter", 0).readOutputAs(Integer.class));
    }

    @Test
    void activityFailure() throws Exception {
        OrchestrationMetadata m = run("CallsBoom", null);
        assertEquals(OrchestrationRuntimeStatus.FAILED, m.getRuntimeStatus());
        assertNotNull(m.getFailureDetails());
        assertTrue(m.getFailureDetails().getErrorMessage().contains("boom from activity"));
    }

    @Test
    void retries() throws Exception {
        flakyCalls.set(0);
        assertEquals("third time lucky", run("Retries", null).readOutputAs(String.class));
        assertEquals(3, flakyCalls.get());
    }

    @Test
    void terminate() throws Exception {
        String id = client.scheduleNewOrchestrationInstance("Waits");
        client.waitForInstanceStart(id, WAIT);
        client.terminate(id, "stopped");
        OrchestrationMetadata m = client.waitForInstanceCompletion(id, WAIT, true);
        assertEquals(OrchestrationRuntimeStatus.TERMINATED, m.getRuntimeStatus());
        assertEquals("stopped", m.readOutputAs(String.class));
    }

    @Test
    void suspendResumeAndCustomStatus() throws Exception {
        String id = client.scheduleNewOrchestrationInstance("Waits");
        client.waitForInstanceStart(id, WAIT);
        client.suspendInstance(id);
        assertEquals(OrchestrationRuntimeStatus.SUSPENDED, client.getInstanceMetadata(id, false).getRuntimeStatus());
        client.raiseEvent(id, "go", "after resume");
        client.resumeInstance(id);
        OrchestrationMetadata m = client.waitForInstanceCompletion(id, WAIT, true);
        assertEquals("after resume", m.readOutputAs(String.class));
        assertEquals("waiting", m.readCustomStatusAs(String.class));
    }

    @Test
    void purge() throws Exception {
        String id = client.scheduleNewOrchestrationInstance("HelloOrchestration", "purge");
        client.waitForInstanceCompletion(id, WAIT, false);
        assertEquals(1, client.purgeInstance(id).getDeletedInstanceCount());
        assertFalse(client.getInstanceMetadata(id, false).isInstanceFound());
    }

    @Test
    void queryByStatus() throws Exception {
        String id = client.scheduleNewOrchestrationInstance("Waits");
        client.waitForInstanceStart(id, WAIT);
        OrchestrationStatusQuery query = new OrchestrationStatusQuery();
        query.setRuntimeStatusList(List.of(OrchestrationRuntimeStatus.RUNNING));
        List<String> running = client.queryInstances(query).getOrchestrationState().stream()
            .map(OrchestrationMetadata::getInstanceId).toList();
        assertTrue(running.contains(id));
        client.terminate(id, null);
    }

    @Test
    void waitForUnknownInstanceFailsPromptly() {
        long started = System.nanoTime();
        assertThrows(Exception.class, () -> client.waitForInstanceCompletion("no-such-instance", WAIT, false));
        assertTrue(System.nanoTime() - started < 5_000_000_000L);
    }

    @Test
    void scheduledStartTime() throws Exception {
        Instant startAt = Instant.now().plusSeconds(2);
        NewOrchestrationInstanceOptions options = new NewOrchestrationInstanceOptions().setInput("later").setStartTime(startAt);
        String id = client.scheduleNewOrchestrationInstance("HelloOrchestration", options);
        OrchestrationMetadata m = client.waitForInstanceCompletion(id, WAIT, true);
        assertEquals("Hello, later!", m.readOutputAs(String.class));
        assertFalse(Instant.now().isBefore(startAt));
    }

    @Test
    void duplicateInstanceId() throws Exception {
        String id = "java-duplicate-" + System.nanoTime();
        client.scheduleNewOrchestrationInstance("Waits", null, id);
        assertThrows(Exception.class, () -> client.scheduleNewOrchestrationInstance("Waits", null, id));
        client.terminate(id, null);
    }

    @Test
    void restart() throws Exception {
        String id = client.scheduleNewOrchestrationInstance("HelloOrchestration", "again");
        client.waitForInstanceCompletion(id, WAIT, false);
        String newId = client.restartInstance(id, true);
        assertEquals("Hello, again!", client.waitForInstanceCompletion(newId, WAIT, true).readOutputAs(String.class));
    }

    @Test
    void sendEventBetweenOrchestrations() throws Exception {
        String target = client.scheduleNewOrchestrationInstance("Waits");
        client.waitForInstanceStart(target, WAIT);
        run("Sender", target);
        assertEquals("sent by an orchestration", client.waitForInstanceCompletion(target, WAIT, true).readOutputAs(String.class));
    }
}

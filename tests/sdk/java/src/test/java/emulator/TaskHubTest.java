package emulator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import com.microsoft.durabletask.*;
import io.grpc.Channel;
import io.grpc.ClientInterceptors;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.stub.MetadataUtils;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Task hubs: a client and a worker whose calls carry a {@code taskhub} header are isolated from the default hub.
 *
 * <p>A class of its own, so that it runs while no default-hub worker is connected: JUnit runs the test classes one
 * after another, and ScenariosTest's worker lives from its {@code @BeforeAll} to its {@code @AfterAll}. An instance
 * on the default hub can then stay PENDING (the suite's default worker would otherwise fail it as unknown).
 *
 * <p>SDK 1.5.0 has no metadata option, but both builders take a {@code grpcChannel(Channel)}: the channel is a
 * plaintext ManagedChannel wrapped by {@code ClientInterceptors.intercept} with
 * {@code MetadataUtils.newAttachHeadersInterceptor}, which adds the header to every call, the work-item stream too.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class TaskHubTest {
    static final Duration WAIT = Duration.ofSeconds(20);
    static final Metadata.Key<String> TASKHUB = Metadata.Key.of("taskhub", Metadata.ASCII_STRING_MARSHALLER);

    static Channel onTaskHub(ManagedChannel channel, String hub) {
        Metadata headers = new Metadata();
        headers.put(TASKHUB, hub);
        return ClientInterceptors.intercept(channel, MetadataUtils.newAttachHeadersInterceptor(headers));
    }

    static void shutdown(ManagedChannel channel) throws InterruptedException {
        channel.shutdownNow();
        channel.awaitTermination(5, TimeUnit.SECONDS);
    }

    @Test
    void taskhub__isolatedFromTheDefaultHubBothWays() throws Exception {
        int port = Integer.parseInt(System.getenv("DTEMU_PORT"));
        String hub = "java-hub-" + UUID.randomUUID();
        String prefix = "java-taskhub-" + UUID.randomUUID();
        String id = prefix + "-one";
        ManagedChannel channel = ManagedChannelBuilder.forAddress("localhost", port).usePlaintext().build();
        DurableTaskClient defaultClient = new DurableTaskGrpcClientBuilder().port(port).build();
        DurableTaskClient hubClient = new DurableTaskGrpcClientBuilder().grpcChannel(onTaskHub(channel, hub)).build();
        DurableTaskGrpcWorker hubWorker = new DurableTaskGrpcWorkerBuilder().grpcChannel(onTaskHub(channel, hub))
            .addActivity(ScenariosTest.activity("HubHello", ctx -> "Hello from " + hub + ", " + ctx.getInput(String.class) + "!"))
            .addOrchestration(ScenariosTest.orchestration("HubGreeting", ctx ->
                ctx.complete(ctx.callActivity("HubHello", ctx.getInput(String.class), String.class).await())))
            .build();
        hubWorker.start();
        try {
            // 1. Started on the hub, run by the hub's worker; the default hub has no such instance.
            assertEquals(id, hubClient.scheduleNewOrchestrationInstance("HubGreeting", "one", id));
            OrchestrationMetadata done = hubClient.waitForInstanceCompletion(id, WAIT, true);
            assertEquals(OrchestrationRuntimeStatus.COMPLETED, done.getRuntimeStatus());
            assertEquals("Hello from " + hub + ", one!", done.readOutputAs(String.class));
            assertFalse(defaultClient.getInstanceMetadata(id, false).isInstanceFound(), "the default hub sees the hub's instance");

            // 2. The same ID on the default hub (no default-hub worker is connected): the hub's worker, still
            // serving its own hub, never receives it.
            assertEquals(id, defaultClient.scheduleNewOrchestrationInstance("HubGreeting", "two", id));
            String after = hubClient.scheduleNewOrchestrationInstance("HubGreeting", "three", prefix + "-after");
            assertEquals("Hello from " + hub + ", three!", hubClient.waitForInstanceCompletion(after, WAIT, true).readOutputAs(String.class));
            Thread.sleep(200);
            assertEquals(OrchestrationRuntimeStatus.PENDING, defaultClient.getInstanceMetadata(id, false).getRuntimeStatus());
            OrchestrationMetadata hubSide = hubClient.getInstanceMetadata(id, true);
            assertEquals(OrchestrationRuntimeStatus.COMPLETED, hubSide.getRuntimeStatus());
            assertEquals("one", hubSide.readInputAs(String.class), "the default hub's start replaced the hub's instance");

            // The hub's queries list only its own instances.
            OrchestrationStatusQuery query = new OrchestrationStatusQuery().setInstanceIdPrefix(prefix);
            List<String> listed = hubClient.queryInstances(query).getOrchestrationState().stream()
                .map(OrchestrationMetadata::getInstanceId).sorted().collect(Collectors.toList());
            assertEquals(List.of(after, id), listed);
            // Clean up: the default hub's instance, terminated without a worker, is purged.
            defaultClient.terminate(id, "cleaning up");
            assertEquals(OrchestrationRuntimeStatus.TERMINATED, defaultClient.waitForInstanceCompletion(id, WAIT, false).getRuntimeStatus());
            assertEquals(1, defaultClient.purgeInstance(id).getDeletedInstanceCount());
            assertFalse(defaultClient.getInstanceMetadata(id, false).isInstanceFound(), "the default hub's instance was not purged");
        } finally {
            hubWorker.stop();
            shutdown(channel);
            defaultClient.close();
        }
    }
}

package clickstream.localstack;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.apache.logging.log4j.core.LoggerContext;
import org.apache.logging.log4j.core.config.Configurator;
import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.logging.LogConfigurator;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.index.mapper.MapperExtrasPlugin;
import org.opensearch.index.reindex.ReindexPlugin;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.painless.PainlessPlugin;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;

/**
 * Runs one OpenSearch node in this JVM, from the jars on the classpath.
 *
 * <p>Why not the OpenSearch distribution: only Maven Central is reachable here, and it publishes the
 * server and its modules as plain jars, not the tarball with bin/ and modules/. The distribution's
 * {@code Bootstrap} loads modules from a modules/ folder (one class loader each); here the modules are
 * on the classpath instead, which only the protected {@code Node(Environment, Collection, boolean)}
 * constructor accepts, so this class subclasses {@link Node}, as OpenSearch's own test MockNode does.
 *
 * <p>What Bootstrap does and this launcher deliberately skips: bootstrap checks (vm.max_map_count,
 * heap size, file descriptors; they guard production nodes, a laptop node need not pass them), the
 * security manager (deprecated in Java 17; no untrusted plugins are loaded) and the jar hell check
 * (Maven resolved one version of each artifact).
 *
 * <p>Usage: {@code java -cp <classes>:<lib>/* clickstream.localstack.LocalOpenSearch -Ekey=value ...};
 * {@code path.home} must be given and must hold {@code config/log4j2.properties}. Every {@code -E}
 * setting overrides the defaults in {@link #defaults()}. SIGTERM (or Ctrl-C) closes the node cleanly.
 */
public final class LocalOpenSearch {

    /** The modules a useful node needs; the distribution would load them from modules/. */
    static final List<Class<? extends Plugin>> CLASSPATH_PLUGINS = List.of(
        Netty4Plugin.class,          // HTTP and transport layers
        CommonAnalysisPlugin.class,  // standard analyzers, tokenizers, filters
        MapperExtrasPlugin.class,    // scaled_float, rank_feature, search_as_you_type, token_count
        PainlessPlugin.class,        // painless scripts (script queries, scripted updates)
        ReindexPlugin.class          // _delete_by_query, _update_by_query, _reindex
    );

    /** A node that accepts plugins from the classpath; the constructor is protected in Node. */
    static final class ClasspathPluginsNode extends Node {
        ClasspathPluginsNode(Environment environment, Collection<Class<? extends Plugin>> plugins) {
            // forbidPrivateIndexSettings=true: the same guard a distribution node has.
            super(environment, plugins, true);
        }
    }

    private LocalOpenSearch() {}

    /** Local defaults; start.sh passes ports and paths with -E. */
    static Settings defaults() {
        return Settings.builder()
            .put("cluster.name", "clickstream-local")
            .put("node.name", "clickstream-local-node")
            .put("discovery.type", "single-node")
            // Loopback only: the node has no security plugin, so nothing outside this machine may reach it.
            .put("network.host", "127.0.0.1")
            // Single ports, not ranges: a taken port must fail the start, not silently move to 9201.
            .put("http.port", "9200")
            .put("transport.port", "9300")
            // A laptop disk is often more than 90% full; the disk watermarks would then block writes
            // (index.blocks.read_only_allow_delete) for reasons unrelated to the pipeline.
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            .build();
    }

    /** Parses {@code -Ekey=value} (or {@code -E key=value}) arguments. */
    static Settings parseArgs(String[] args) {
        Settings.Builder builder = Settings.builder();
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            String keyValue;
            if (arg.equals("-E") && i + 1 < args.length) {
                keyValue = args[++i];
            } else if (arg.startsWith("-E")) {
                keyValue = arg.substring(2);
            } else {
                throw new IllegalArgumentException("unknown argument [" + arg + "]; expected -Ekey=value");
            }
            int eq = keyValue.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("setting [" + keyValue + "] must be key=value");
            }
            builder.put(keyValue.substring(0, eq), keyValue.substring(eq + 1));
        }
        return builder.build();
    }

    public static void main(String[] args) throws Exception {
        // As in OpenSearch's own main: catch log4j status errors that happen before logging is set up.
        LogConfigurator.registerErrorListener();

        final Settings settings;
        try {
            settings = Settings.builder().put(defaults()).put(parseArgs(args)).build();
        } catch (IllegalArgumentException e) {
            System.err.println("LocalOpenSearch: " + e.getMessage());
            System.exit(64);
            return;
        }
        String home = settings.get(Environment.PATH_HOME_SETTING.getKey());
        if (home == null || home.isEmpty()) {
            System.err.println("LocalOpenSearch: -Epath.home=<dir> is required");
            System.exit(64);
            return;
        }
        Path configDir = Paths.get(home).resolve("config");
        if (!Files.isRegularFile(configDir.resolve("log4j2.properties"))) {
            System.err.println("LocalOpenSearch: " + configDir.resolve("log4j2.properties") + " is missing");
            System.exit(78);
            return;
        }

        final Environment environment =
            InternalSettingsPreparer.prepareEnvironment(settings, Collections.emptyMap(), configDir, () -> "clickstream-local-node");
        LogConfigurator.setNodeName(Node.NODE_NAME_SETTING.get(environment.settings()));
        LogConfigurator.configure(environment);
        final Logger logger = LogManager.getLogger(LocalOpenSearch.class);

        final Node node;
        try {
            node = new ClasspathPluginsNode(environment, CLASSPATH_PLUGINS);
        } catch (Exception | Error e) {
            logger.error("could not create the node", e);
            shutdownLogging();
            System.exit(1);
            return;
        }

        final CountDownLatch stopped = new CountDownLatch(1);
        // SIGTERM/SIGINT run shutdown hooks: close the node (flushes and releases the data folder
        // lock) before the JVM exits, so the next start finds a clean node folder.
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            logger.info("shutdown requested, closing the node");
            try {
                node.close();
                if (!node.awaitClose(30, TimeUnit.SECONDS)) {
                    logger.warn("node did not close within 30s");
                }
                logger.info("node closed");
            } catch (Exception e) {
                logger.error("error while closing the node", e);
            } finally {
                stopped.countDown();
                shutdownLogging();
            }
        }, "local-opensearch-shutdown"));

        try {
            node.start();
        } catch (Exception | Error e) {
            logger.error("could not start the node", e);
            // exit runs the shutdown hook, which closes what start() opened.
            System.exit(1);
            return;
        }
        logger.info("LocalOpenSearch ready: cluster [{}], node [{}], plugins {}",
            environment.settings().get("cluster.name"), Node.NODE_NAME_SETTING.get(environment.settings()),
            CLASSPATH_PLUGINS.stream().map(Class::getSimpleName).toList());

        // The node's own threads are daemons in places; keep the JVM alive until shutdown.
        stopped.await();
    }

    private static void shutdownLogging() {
        // log4j's own shutdown hook is disabled (-Dlog4j.shutdownHookEnabled=false) so that closing
        // the node can still log; stop it last.
        Configurator.shutdown((LoggerContext) LogManager.getContext(false));
    }
}

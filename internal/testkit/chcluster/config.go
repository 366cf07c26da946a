package chcluster

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// writeConfig writes node's config.xml and users.xml: the minimal
// single-server config of internal/testkit/chserver (loopback only, small
// caches, warning-level logs) plus what a cluster member needs: the
// interserver port, remote_servers, zookeeper, macros and distributed_ddl.
func writeConfig(c *Cluster, n *Node, session time.Duration) error {
	for _, sub := range []string{"data", "tmp", "user_files", "format_schemas"} {
		if err := os.MkdirAll(filepath.Join(n.Dir, sub), 0o755); err != nil {
			return err
		}
	}
	port := func(addr string) string {
		_, p, _ := net.SplitHostPort(addr)
		return p
	}
	var shards strings.Builder
	for s := 1; s <= c.Shards; s++ {
		shards.WriteString("      <shard>\n        <internal_replication>true</internal_replication>\n")
		for r := 1; r <= c.Replicas; r++ {
			m := c.nodes[(s-1)*c.Replicas+r-1]
			fmt.Fprintf(&shards, "        <replica><host>127.0.0.1</host><port>%s</port></replica>\n", port(m.Addr))
		}
		shards.WriteString("      </shard>\n")
	}
	config := fmt.Sprintf(`<?xml version="1.0"?>
<yandex>
  <logger>
    <level>warning</level>
    <log>%[1]s/server.log</log>
    <errorlog>%[1]s/error.log</errorlog>
    <size>10M</size>
    <count>1</count>
    <console>0</console>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <tcp_port>%[2]s</tcp_port>
  <http_port>%[3]s</http_port>
  <interserver_http_port>%[4]s</interserver_http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <path>%[1]s/data/</path>
  <tmp_path>%[1]s/tmp/</tmp_path>
  <user_files_path>%[1]s/user_files/</user_files_path>
  <format_schema_path>%[1]s/format_schemas/</format_schema_path>
  <users_config>%[1]s/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>67108864</mark_cache_size>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
  <timezone>UTC</timezone>
  <remote_servers>
    <%[5]s>
%[6]s    </%[5]s>
  </remote_servers>
  <zookeeper>
    <node><host>127.0.0.1</host><port>%[7]d</port></node>
    <session_timeout_ms>%[8]d</session_timeout_ms>
  </zookeeper>
  <macros>
    <cluster>%[5]s</cluster>
    <shard>%[9]d</shard>
    <replica>%[10]s</replica>
  </macros>
  <distributed_ddl>
    <path>/clickhouse/task_queue/ddl</path>
  </distributed_ddl>
</yandex>
`, n.Dir, port(n.Addr), port(n.HTTPAddr), port(n.InterserverAddr),
		c.Name, shards.String(), c.ZK.Port, session.Milliseconds(), n.Shard, n.ReplicaName())
	users := `<?xml version="1.0"?>
<yandex>
  <profiles>
    <default>
      <max_memory_usage>4000000000</max_memory_usage>
      <use_uncompressed_cache>0</use_uncompressed_cache>
      <!-- cspwatch's cluster mode needs it (internal/store/cluster.go):
           IN and JOIN subqueries over a Distributed table inside a
           distributed query read the shard's local table. -->
      <distributed_product_mode>local</distributed_product_mode>
    </default>
  </profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas>
    <default>
      <interval>
        <duration>3600</duration>
        <queries>0</queries>
        <errors>0</errors>
        <result_rows>0</result_rows>
        <read_rows>0</read_rows>
        <execution_time>0</execution_time>
      </interval>
    </default>
  </quotas>
</yandex>
`
	if err := os.WriteFile(filepath.Join(n.Dir, "config.xml"), []byte(config), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(n.Dir, "users.xml"), []byte(users), 0o644)
}

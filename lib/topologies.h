/*
 * topologies.h - Scope's topology keys and the canonical node "topology"
 * value each implies (docs/ARCHITECTURE.md, "What Scope's probe expects"
 * 3), shared by the SDK and the host's
 * validator.  Private: not installed.
 */
#ifndef SPH_TOPOLOGIES_H
#define SPH_TOPOLOGIES_H

struct sph_topodef {
	const char	*key;
	const char	*value;
};

static const struct sph_topodef sph_topodefs[] = {
	{ "Endpoint", "endpoint" },
	{ "Process", "process" },
	{ "Container", "container" },
	{ "ContainerImage", "container_image" },
	{ "Pod", "pod" },
	{ "Service", "service" },
	{ "Deployment", "deployment" },
	{ "ReplicaSet", "replica_set" },
	{ "DaemonSet", "daemon_set" },
	{ "StatefulSet", "stateful_set" },
	{ "CronJob", "cron_job" },
	{ "Job", "job" },
	{ "Namespace", "namespace" },
	{ "ECSTask", "ecs_task" },
	{ "ECSService", "ecs_service" },
	{ "SwarmService", "swarm_service" },
	{ "Host", "host" },
	{ "Overlay", "overlay" },
	{ "PersistentVolume", "persistent_volume" },
	{ "PersistentVolumeClaim", "persistent_volume_claim" },
	{ "StorageClass", "storage_class" },
	{ "VolumeSnapshot", "volume_snapshot" },
	{ "VolumeSnapshotData", "volume_snapshot_data" },
};
#define SPH_NTOPODEFS (sizeof sph_topodefs / sizeof sph_topodefs[0])

#endif

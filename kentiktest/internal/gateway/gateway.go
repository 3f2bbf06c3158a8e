// Package gateway registers Kentik's v6 REST mapping (the google.api.http binding of
// every public method that has one) on a grpc-gateway ServeMux, with the handlers
// protoc-gen-grpc-gateway generated into gen/gateway. Only kentiktest imports it, so
// that grpc-gateway's runtime stays out of every other program.
package gateway

import (
	"context"
	"fmt"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"

	aiadvisorv202511 "github.com/gokentik/kentik/gen/gateway/kentik/ai_advisor/v202511"
	alertingpublicv202505 "github.com/gokentik/kentik/gen/gateway/kentik/alerting/public/v202505"
	asgroupv202212 "github.com/gokentik/kentik/gen/gateway/kentik/as_group/v202212"
	assettagsv20260515beta1 "github.com/gokentik/kentik/gen/gateway/kentik/asset_tags/v20260515beta1"
	auditpublicv202601 "github.com/gokentik/kentik/gen/gateway/kentik/audit/public/v202601"
	bgpmonitoringv202205beta1 "github.com/gokentik/kentik/gen/gateway/kentik/bgp_monitoring/v202205beta1"
	bgpmonitoringv202210 "github.com/gokentik/kentik/gen/gateway/kentik/bgp_monitoring/v202210"
	capacityplanv202212 "github.com/gokentik/kentik/gen/gateway/kentik/capacity_plan/v202212"
	cloudexportv202101beta1 "github.com/gokentik/kentik/gen/gateway/kentik/cloud_export/v202101beta1"
	cloudexportv202210 "github.com/gokentik/kentik/gen/gateway/kentik/cloud_export/v202210"
	cloudexportv202506 "github.com/gokentik/kentik/gen/gateway/kentik/cloud_export/v202506"
	connectivitycheckerv202410beta1 "github.com/gokentik/kentik/gen/gateway/kentik/connectivity_checker/v202410beta1"
	costv202308 "github.com/gokentik/kentik/gen/gateway/kentik/cost/v202308"
	credentialv202407alpha1 "github.com/gokentik/kentik/gen/gateway/kentik/credential/v202407alpha1"
	customapplicationv202501alpha1 "github.com/gokentik/kentik/gen/gateway/kentik/custom_application/v202501alpha1"
	customdimensionv202411alpha1 "github.com/gokentik/kentik/gen/gateway/kentik/custom_dimension/v202411alpha1"
	devicev202308beta1 "github.com/gokentik/kentik/gen/gateway/kentik/device/v202308beta1"
	devicev202504beta2 "github.com/gokentik/kentik/gen/gateway/kentik/device/v202504beta2"
	dictionaryv20260604alpha1 "github.com/gokentik/kentik/gen/gateway/kentik/dictionary/v20260604alpha1"
	enrichmentsenumerationsv202601alpha1 "github.com/gokentik/kentik/gen/gateway/kentik/enrichments/enumerations/v202601alpha1"
	flowtagv202404alpha1 "github.com/gokentik/kentik/gen/gateway/kentik/flow_tag/v202404alpha1"
	interfacev202108alpha1 "github.com/gokentik/kentik/gen/gateway/kentik/interface/v202108alpha1"
	journeysv202405alpha1 "github.com/gokentik/kentik/gen/gateway/kentik/journeys/v202405alpha1"
	journeysv202406 "github.com/gokentik/kentik/gen/gateway/kentik/journeys/v202406"
	kagentv202401 "github.com/gokentik/kentik/gen/gateway/kentik/kagent/v202401"
	kmiv202212 "github.com/gokentik/kentik/gen/gateway/kentik/kmi/v202212"
	labelv202203alpha1 "github.com/gokentik/kentik/gen/gateway/kentik/label/v202203alpha1"
	labelv202210 "github.com/gokentik/kentik/gen/gateway/kentik/label/v202210"
	mkpv202102alpha1 "github.com/gokentik/kentik/gen/gateway/kentik/mkp/v202102alpha1"
	mkpv202407 "github.com/gokentik/kentik/gen/gateway/kentik/mkp/v202407"
	networkclassv202109alpha1 "github.com/gokentik/kentik/gen/gateway/kentik/network_class/v202109alpha1"
	notificationchannelv202204alpha1 "github.com/gokentik/kentik/gen/gateway/kentik/notification_channel/v202204alpha1"
	notificationchannelv202210 "github.com/gokentik/kentik/gen/gateway/kentik/notification_channel/v202210"
	pathfinderv202505beta1 "github.com/gokentik/kentik/gen/gateway/kentik/pathfinder/v202505beta1"
	planv202501alpha1 "github.com/gokentik/kentik/gen/gateway/kentik/plan/v202501alpha1"
	savedfilterv202501alpha1 "github.com/gokentik/kentik/gen/gateway/kentik/saved_filter/v202501alpha1"
	sitev202106alpha1 "github.com/gokentik/kentik/gen/gateway/kentik/site/v202106alpha1"
	sitev202211 "github.com/gokentik/kentik/gen/gateway/kentik/site/v202211"
	sitev202509 "github.com/gokentik/kentik/gen/gateway/kentik/site/v202509"
	syntheticsv202309 "github.com/gokentik/kentik/gen/gateway/kentik/synthetics/v202309"
	userv202106alpha1 "github.com/gokentik/kentik/gen/gateway/kentik/user/v202106alpha1"
	userv202211 "github.com/gokentik/kentik/gen/gateway/kentik/user/v202211"
)

// registrations lists the Register...Handler function of every service of gen/gateway
// (DeviceConfigurationService and KptrService have no HTTP binding, so no handler).
// TestRegistersEveryGeneratedService keeps it whole.
var registrations = []func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error{
	aiadvisorv202511.RegisterAiAdvisorDataServiceHandler,
	alertingpublicv202505.RegisterAlertServiceHandler,
	alertingpublicv202505.RegisterAlertAutoAckServiceHandler,
	alertingpublicv202505.RegisterMitigationsServiceHandler,
	alertingpublicv202505.RegisterMitigationMethodsServiceHandler,
	alertingpublicv202505.RegisterMitigationPlatformsServiceHandler,
	alertingpublicv202505.RegisterPolicyServiceHandler,
	alertingpublicv202505.RegisterAlertSilenceNotificationsServiceHandler,
	alertingpublicv202505.RegisterSuppressionServiceHandler,
	asgroupv202212.RegisterASGroupServiceHandler,
	assettagsv20260515beta1.RegisterAssetTagsServiceHandler,
	auditpublicv202601.RegisterAuditServiceHandler,
	bgpmonitoringv202205beta1.RegisterBgpMonitoringAdminServiceHandler,
	bgpmonitoringv202205beta1.RegisterBgpMonitoringDataServiceHandler,
	bgpmonitoringv202210.RegisterBgpMonitoringAdminServiceHandler,
	bgpmonitoringv202210.RegisterBgpMonitoringDataServiceHandler,
	capacityplanv202212.RegisterCapacityPlanServiceHandler,
	cloudexportv202101beta1.RegisterCloudExportAdminServiceHandler,
	cloudexportv202210.RegisterCloudExportAdminServiceHandler,
	cloudexportv202506.RegisterCloudExportAdminServiceHandler,
	connectivitycheckerv202410beta1.RegisterConnectivityCheckerAdminServiceHandler,
	costv202308.RegisterCostServiceHandler,
	credentialv202407alpha1.RegisterCredentialServiceHandler,
	customapplicationv202501alpha1.RegisterCustomApplicationServiceHandler,
	customdimensionv202411alpha1.RegisterCustomDimensionServiceHandler,
	devicev202308beta1.RegisterDeviceServiceHandler,
	devicev202504beta2.RegisterDeviceServiceHandler,
	dictionaryv20260604alpha1.RegisterDictionaryServiceHandler,
	enrichmentsenumerationsv202601alpha1.RegisterEnumerationsAdminServiceHandler,
	flowtagv202404alpha1.RegisterFlowTagServiceHandler,
	interfacev202108alpha1.RegisterInterfaceServiceHandler,
	journeysv202405alpha1.RegisterJourneysDataServiceHandler,
	journeysv202406.RegisterJourneysDataServiceHandler,
	kagentv202401.RegisterAgentServiceHandler,
	kagentv202401.RegisterAgentCapabilityServiceHandler,
	kagentv202401.RegisterConfigServiceHandler,
	kagentv202401.RegisterProvisioningTokenServiceHandler,
	kmiv202212.RegisterKmiServiceHandler,
	labelv202203alpha1.RegisterLabelServiceHandler,
	labelv202210.RegisterLabelServiceHandler,
	mkpv202102alpha1.RegisterPackageServiceHandler,
	mkpv202102alpha1.RegisterTenantServiceHandler,
	mkpv202407.RegisterPackageServiceHandler,
	mkpv202407.RegisterTenantServiceHandler,
	mkpv202407.RegisterTenantUserServiceHandler,
	networkclassv202109alpha1.RegisterNetworkClassServiceHandler,
	notificationchannelv202204alpha1.RegisterNotificationChannelServiceHandler,
	notificationchannelv202210.RegisterNotificationChannelServiceHandler,
	pathfinderv202505beta1.RegisterPathfinderAdminServiceHandler,
	planv202501alpha1.RegisterPlanServiceHandler,
	savedfilterv202501alpha1.RegisterSavedFilterServiceHandler,
	sitev202106alpha1.RegisterSiteServiceHandler,
	sitev202211.RegisterSiteServiceHandler,
	sitev202509.RegisterSiteServiceHandler,
	syntheticsv202309.RegisterSyntheticsDataServiceHandler,
	syntheticsv202309.RegisterSyntheticsAdminServiceHandler,
	userv202106alpha1.RegisterUserServiceHandler,
	userv202211.RegisterUserServiceHandler,
}

// Register registers every service's REST mapping on mux; each call is forwarded to
// conn as a gRPC call.
func Register(ctx context.Context, mux *runtime.ServeMux, conn *grpc.ClientConn) error {
	for _, r := range registrations {
		if err := r(ctx, mux, conn); err != nil {
			return fmt.Errorf("kentiktest: REST mapping: %w", err)
		}
	}
	return nil
}

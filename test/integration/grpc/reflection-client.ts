import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { credentials, loadPackageDefinition, Metadata, type ChannelCredentials, type Client, type ClientDuplexStream, type GrpcObject, type ServiceClientConstructor } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

const require = createRequire(import.meta.url);
const reflectionProto = join(dirname(require.resolve('@grpc/reflection')), '../proto/grpc/reflection/v1/reflection.proto');

export interface ReflectionResponse {
  listServicesResponse?: { service: { name: string }[] };
  fileDescriptorResponse?: { fileDescriptorProto: Buffer[] };
  errorResponse?: { errorCode: number; errorMessage: string };
}

function reflectionClient(address: string, creds: ChannelCredentials): Client & { ServerReflectionInfo(md?: Metadata): ClientDuplexStream<object, ReflectionResponse> } {
  const pkg = loadPackageDefinition(loadSync(reflectionProto, { longs: String, enums: String, defaults: true, oneofs: true })) as GrpcObject;
  const reflection = ((pkg.grpc as GrpcObject).reflection as GrpcObject).v1 as GrpcObject;
  const Ctor = reflection.ServerReflection as ServiceClientConstructor;
  return new Ctor(address, creds) as never;
}

export async function reflect(address: string, request: object, metadata = new Metadata(), creds: ChannelCredentials = credentials.createInsecure()): Promise<ReflectionResponse> {
  const client = reflectionClient(address, creds);
  try {
    return await new Promise<ReflectionResponse>((resolve, reject) => {
      const call = client.ServerReflectionInfo(metadata);
      call.on('data', (r: ReflectionResponse) => {
        resolve(r);
        call.end();
      });
      call.on('error', reject);
      call.write(request);
    });
  } finally {
    client.close();
  }
}

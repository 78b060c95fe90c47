using System.Buffers.Binary;

namespace O2RL.Inference.Onnx;

/// <summary>
/// Writes a policy's deterministic action as a standard ONNX graph (IR version 8, opset 17), encoded directly in
/// the protobuf wire format (no ONNX package): input <c>observation</c> [batch, obsDim] → output <c>action</c>
/// [batch, actionDim], computing exactly what <see cref="PolicyModel.ActBatch"/> computes.
/// </summary>
/// <remarks>
/// Graph: Sub(mean) → Div(std) when the policy normalises observations; per layer Gemm(transB = 1) →
/// LayerNormalization (axis −1, ε = 1e-5) when present → Relu (hidden) ; the head: tanh-Gaussian Gemm over the
/// mean rows only → Tanh → Clip(±0.9999); deterministic and Gaussian Gemm → Tanh; then, with action bounds,
/// Add(1) → Mul((high − low)/2) → Add(low). Field numbers are those of onnx.proto (ModelProto, GraphProto,
/// NodeProto, AttributeProto, TensorProto, ValueInfoProto, TypeProto, TensorShapeProto).
/// </remarks>
public static class OnnxExporter
{
    /// <summary>The ONNX IR version written (8: ONNX 1.10+, every current runtime).</summary>
    public const long IrVersion = 8;
    /// <summary>The default-domain opset written (17 is the first with LayerNormalization).</summary>
    public const long Opset = 17;
    /// <summary>Graph input and output names.</summary>
    public const string InputName = "observation", OutputName = "action";

    const int FloatType = 1; // TensorProto.DataType.FLOAT
    const int AttributeFloat = 1, AttributeInt = 2; // AttributeProto.AttributeType

    /// <summary>Writes the ONNX model of <paramref name="policy"/> to <paramref name="path"/>.</summary>
    public static void Export(PolicyModel policy, string path)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentException.ThrowIfNullOrEmpty(path);
        File.WriteAllBytes(path, Export(policy));
    }

    /// <summary>The ONNX model of <paramref name="policy"/> as bytes.</summary>
    public static byte[] Export(PolicyModel policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        var graph = new GraphBuilder();
        string x = InputName;
        if (policy.ObservationMean is not null)
        {
            x = graph.Node("Sub", [x, graph.Initializer("obs_mean", [policy.ObsDim], [.. policy.ObservationMean])], "normalize_sub");
            x = graph.Node("Div", [x, graph.Initializer("obs_std", [policy.ObsDim], [.. policy.ObservationStd!])], "normalize_div");
        }
        var layers = policy.Layers;
        for (int i = 0; i < layers.Count; i++)
        {
            var layer = layers[i];
            bool last = i == layers.Count - 1;
            int outDim = layer.OutDim;
            float[] weight = layer.Weight, bias = layer.Bias;
            if (last && policy.Family == PolicyFamily.TanhGaussian)
            {
                // The deterministic action needs only μ: the first d rows of the head (the log-std rows are for sampling).
                outDim = policy.ActionDim;
                weight = layer.Weight[..(outDim * layer.InDim)];
                bias = layer.Bias[..outDim];
            }
            string w = graph.Initializer($"layer{i}.weight", [outDim, layer.InDim], weight);
            string b = graph.Initializer($"layer{i}.bias", [outDim], bias);
            x = graph.Node("Gemm", [x, w, b], $"layer{i}.gemm", new ProtoWriter().String(1, "transB").Int(3, 1).Int(20, AttributeInt));
            if (layer.LayerNormGain is not null)
            {
                string gain = graph.Initializer($"layer{i}.ln.weight", [outDim], layer.LayerNormGain);
                string beta = graph.Initializer($"layer{i}.ln.bias", [outDim], layer.LayerNormBias!);
                x = graph.Node("LayerNormalization", [x, gain, beta], $"layer{i}.layernorm",
                    new ProtoWriter().String(1, "axis").Int(3, -1).Int(20, AttributeInt),
                    new ProtoWriter().String(1, "epsilon").Float(2, DenseLayer.LayerNormEpsilon).Int(20, AttributeFloat));
            }
            var activation = last && policy.Family == PolicyFamily.TanhGaussian ? LayerActivation.Tanh : layer.Activation;
            if (activation == LayerActivation.Relu) x = graph.Node("Relu", [x], $"layer{i}.relu");
            else if (activation == LayerActivation.Tanh) x = graph.Node("Tanh", [x], $"layer{i}.tanh");
        }
        if (policy.Family == PolicyFamily.TanhGaussian)
            x = graph.Node("Clip", [x, graph.Initializer("clip_min", [], [-PolicyModel.DeterministicActionBound]),
                graph.Initializer("clip_max", [], [PolicyModel.DeterministicActionBound])], "deterministic_clip");
        if (policy.ActionLow is not null)
        {
            var halfRange = new float[policy.ActionDim];
            for (int j = 0; j < halfRange.Length; j++) halfRange[j] = 0.5f * (policy.ActionHigh![j] - policy.ActionLow[j]);
            x = graph.Node("Add", [x, graph.Initializer("one", [], [1f])], "scale_shift");
            x = graph.Node("Mul", [x, graph.Initializer("action_half_range", [policy.ActionDim], halfRange)], "scale_mul");
            x = graph.Node("Add", [x, graph.Initializer("action_low", [policy.ActionDim], [.. policy.ActionLow])], "scale_add");
        }
        graph.Rename(x, OutputName);

        var graphMessage = graph.Build("o2rl_policy", policy.ObsDim, policy.ActionDim);
        var model = new ProtoWriter()
            .Int(1, IrVersion)                                             // ir_version
            .String(2, "O2RL.Inference")                                   // producer_name
            .String(3, typeof(OnnxExporter).Assembly.GetName().Version?.ToString() ?? "0") // producer_version
            .String(6, $"{policy.Family} actor, deterministic action ({policy.Layout})") // doc_string
            .Message(7, graphMessage)                                      // graph
            .Message(8, new ProtoWriter().String(1, "").Int(2, Opset));   // opset_import (default domain)
        if (policy.Algorithm is not null) model.Message(14, new ProtoWriter().String(1, "algorithm").String(2, policy.Algorithm));
        if (policy.EnvironmentId is not null) model.Message(14, new ProtoWriter().String(1, "env_id").String(2, policy.EnvironmentId));
        return model.ToArray();
    }

    /// <summary>Collects nodes and initializers; node outputs get fresh names until the last is renamed to the graph output.</summary>
    sealed class GraphBuilder
    {
        readonly List<(string OpType, string[] Inputs, string Output, string Name, ProtoWriter[] Attributes)> nodes = [];
        readonly List<ProtoWriter> initializers = [];

        public string Initializer(string name, long[] dims, float[] values)
        {
            var raw = new byte[4 * values.Length];
            for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(raw.AsSpan(4 * i), values[i]);
            var tensor = new ProtoWriter();
            if (dims.Length > 0) tensor.PackedInts(1, dims); // dims
            tensor.Int(2, FloatType).String(8, name).Bytes(9, raw); // data_type, name, raw_data
            initializers.Add(tensor);
            return name;
        }

        public string Node(string opType, string[] inputs, string name, params ProtoWriter[] attributes)
        {
            string output = name + ".out";
            nodes.Add((opType, inputs, output, name, attributes));
            return output;
        }

        public void Rename(string output, string newName)
        {
            int index = nodes.FindIndex(n => n.Output == output);
            if (index < 0)
            {
                // A graph with no nodes cannot happen: every policy has at least one Gemm.
                throw new InvalidOperationException($"no node produces '{output}'");
            }
            nodes[index] = nodes[index] with { Output = newName };
        }

        public ProtoWriter Build(string name, int obsDim, int actionDim)
        {
            var graph = new ProtoWriter();
            foreach (var node in nodes)
            {
                var message = new ProtoWriter();
                foreach (string input in node.Inputs) message.String(1, input);
                message.String(2, node.Output).String(3, node.Name).String(4, node.OpType);
                foreach (var attribute in node.Attributes) message.Message(5, attribute);
                graph.Message(1, message);
            }
            graph.String(2, name);
            foreach (var initializer in initializers) graph.Message(5, initializer);
            graph.Message(11, ValueInfo(InputName, obsDim));
            graph.Message(12, ValueInfo(OutputName, actionDim));
            return graph;
        }

        /// <summary>A float tensor [batch, features] with a symbolic batch axis.</summary>
        static ProtoWriter ValueInfo(string name, int features)
        {
            var shape = new ProtoWriter()
                .Message(1, new ProtoWriter().String(2, "batch"))                                        // dim { dim_param }
                .Message(1, new ProtoWriter().Int(1, features));                                        // dim { dim_value }
            var tensorType = new ProtoWriter().Int(1, FloatType).Message(2, shape);                      // elem_type, shape
            return new ProtoWriter().String(1, name).Message(2, new ProtoWriter().Message(1, tensorType)); // name, type { tensor_type }
        }
    }
}

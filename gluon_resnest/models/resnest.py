"""The ResNeSt network: deep stem, split-attention bottlenecks, avg-down shortcuts, optional dilation.

Module hierarchy and creation order reproduce the published Gluon files exactly, in both naming schemes:
structural keys (``layer1.0.conv2.fc1.weight``, written by ``save_parameters``) come from attribute names and
Sequential indices; legacy prefixed keys (``resnest_layers1_conv2_weight``) come from MXNet's per-scope name
counters, so bottleneck and split-attention children are created in the stage scope in the published order.
"""
import mxnet as mx
from mxnet.gluon import nn
from mxnet.gluon.nn import HybridBlock

from ..nn import DropBlock, ModeGraphs, SplitAttentionConv
from ..nn.mode_graphs import training_graph

__all__ = ["Bottleneck", "ResNeSt", "MIN_INPUT_SIZE", "MAX_INPUT_SIZE", "stage_plan"]

#: The network downsamples by 32; smaller inputs leave no spatial extent for the last stage.
MIN_INPUT_SIZE = 32
#: The largest input side the training and export options accept: about twice the largest published evaluation
#: size (416) and the detection backbones' 800-1024 px inputs; a resnest50 forward at this size already needs
#: several GB of activations per image, and a typo such as 100000 px would ask for hundreds of GB.
MAX_INPUT_SIZE = 1024


class Bottleneck(HybridBlock):
    """ResNeSt bottleneck: 1x1 reduce -> split-attention 3x3 -> 1x1 expand (x4), plus the shortcut.

    Input ``(N, inplanes, H, W)``; output ``(N, 4 * planes, H / strides, W / strides)``. With ``avd`` the
    stride is taken by a 3x3 average pool instead of by the convolution: before the split-attention conv if
    ``avd_first``, else inside it (its ``pool_strides``). ``dropblock`` adds three :class:`DropBlock` layers at rate
    ``dropblock_prob`` (after bn1, on the split-attention output before its pool, after bn3 on the main branch);
    ``split_drop_ratio`` is the dropout rate inside the attention branch.
    """

    expansion = 4

    def __init__(self, inplanes, planes, strides=1, dilation=1, previous_dilation=1, downsample=None, radix=2,
                 cardinality=1, bottleneck_width=64, avd=True, avd_first=False, dropblock=False, dropblock_prob=0.0,
                 last_gamma=False, norm_layer=nn.BatchNorm, norm_kwargs=None, split_drop_ratio=0.0, **kwargs):
        super().__init__(**kwargs)
        norm_kwargs = {} if norm_kwargs is None else norm_kwargs
        group_width = int(planes * (bottleneck_width / 64.0)) * cardinality
        self.use_avd = avd and (strides > 1 or previous_dilation != dilation)
        self.avd_first = avd_first
        self.conv1 = nn.Conv2D(group_width, 1, use_bias=False, in_channels=inplanes)
        self.bn1 = norm_layer(in_channels=group_width, **norm_kwargs)
        self.dropblock1 = DropBlock(dropblock_prob) if dropblock else None
        self.relu1 = nn.Activation("relu")
        conv_stride = 1 if self.use_avd else strides
        self.avd_layer = nn.AvgPool2D(3, strides, padding=1) if self.use_avd and avd_first else None
        self.conv2 = SplitAttentionConv(group_width, 3, conv_stride, dilation, dilation, groups=cardinality,
                                        radix=radix, in_channels=group_width, norm_layer=norm_layer,
                                        norm_kwargs=norm_kwargs, drop_ratio=split_drop_ratio,
                                        pool_strides=strides if self.use_avd and not avd_first else None,
                                        dropblock=DropBlock(dropblock_prob) if dropblock else None)
        self.conv3 = nn.Conv2D(planes * self.expansion, 1, use_bias=False, in_channels=group_width)
        bn3_kwargs = dict(norm_kwargs, gamma_initializer="zeros") if last_gamma else norm_kwargs
        self.bn3 = norm_layer(in_channels=planes * self.expansion, **bn3_kwargs)
        self.dropblock3 = DropBlock(dropblock_prob) if dropblock else None
        self.relu3 = nn.Activation("relu")
        self.downsample = downsample

    def hybrid_forward(self, F, x):
        out = self.bn1(self.conv1(x))
        if self.dropblock1 is not None:
            out = self.dropblock1(out)
        out = self.relu1(out)
        if self.avd_layer is not None:
            out = self.avd_layer(out)
        out = self.bn3(self.conv3(self.conv2(out)))
        if self.dropblock3 is not None:
            out = self.dropblock3(out)
        residual = x if self.downsample is None else self.downsample(x)
        return self.relu3(self._add_shortcut(F, out, residual))

    @staticmethod
    def _add_shortcut(F, out, residual):
        """``out + residual``: ``elemwise_add`` in inference graphs (oneDNN fuses it into the convolution),
        ``add_n`` in training graphs (the faster of MXNet 1.9's two CPU kernels for a sum of two tensors)."""
        return F.add_n(out, residual) if training_graph() else out + residual


def stage_plan(dilation):
    """Per-stage ``(strides, dilation, first_block_dilation)`` for an output stride given by ``dilation``.

    ``dilation`` 1: output stride 32; 2: stage 4 dilated (output stride 16); 4: stages 3-4 dilated (output
    stride 8, the segmentation setting); 3: stage 3 dilated and stage 4 strided with dilation 2.
    """
    plans = {
        1: [(1, 1, 1), (2, 1, 1), (2, 1, 1), (2, 1, 1)],
        2: [(1, 1, 1), (2, 1, 1), (2, 1, 1), (1, 2, 1)],
        3: [(1, 1, 1), (2, 1, 1), (1, 2, 1), (2, 2, 2)],
        4: [(1, 1, 1), (2, 1, 1), (1, 2, 1), (1, 4, 2)],
    }
    if dilation not in plans:
        raise ValueError("dilation must be 1, 2, 3 or 4 (output stride 32, 16, 8/16, 8), got %r" % (dilation,))
    return plans[dilation]


class ResNeSt(ModeGraphs):
    """ResNeSt for image classification.

    Input ``(N, 3, H, W)`` with ``H, W >= 32``, normalized RGB; output ``(N, num_classes)`` logits, or with
    ``return_stages=True`` the tuple of the four stage outputs ``(N, 256, H/4, W/4) ... (N, 2048, H/32, W/32)``
    (strides 8/16 in the dilated modes) for detection and segmentation backbones.

    Parameters mirror the published Gluon models: ``layers`` blocks per stage, ``radix``, ``cardinality``,
    ``bottleneck_width``, ``stem_width`` (deep stem of three 3x3 convs; ``deep_stem=False`` gives one 7x7 conv
    of 64 channels), ``avd``/``avd_first``, ``avg_down``, ``last_gamma`` (zero-init of each block's last BN),
    ``final_drop`` (dropout before the classifier), ``dropblock_prob`` (DropBlock in stages 3-4, training only),
    ``split_drop_ratio`` (dropout in each attention branch), ``dilated`` (output stride 8) or ``dilation`` (see
    :func:`stage_plan`), ``norm_layer``/``norm_kwargs`` (e.g. SyncBatchNorm), ``use_global_stats`` (BatchNorm
    uses its running statistics in training too, for fine-tuning). ``input_size`` is accepted for GluonCV's
    callers and recorded; it changes nothing, as DropBlock sizes itself from the live feature map.

    Hybridized, the network keeps one cached graph per autograd mode when DropBlock is on (see
    :class:`~gluon_resnest.nn.ModeGraphs`), so its inference graph and ``export()`` carry no DropBlock op.

    ``num_classes`` is the classifier width; ``classes`` holds class names when known (the ImageNet names of
    the published weights, or those given), else ``None``.
    """

    def __init__(self, layers, radix=2, cardinality=1, bottleneck_width=64, stem_width=32, avd=True,
                 avd_first=False, avg_down=True, classes=1000, dilated=False, dilation=1, last_gamma=False,
                 final_drop=0.0, dropblock_prob=0.0, norm_layer=nn.BatchNorm, norm_kwargs=None,
                 return_stages=False, in_channels=3, name_prefix="resnest_", deep_stem=True, use_global_stats=False,
                 split_drop_ratio=0.0, input_size=224, **kwargs):
        super().__init__(prefix=name_prefix, **kwargs)
        if len(layers) != 4 or min(layers) < 1:
            raise ValueError("layers must list four positive block counts, got %r" % (layers,))
        norm_kwargs = {} if norm_kwargs is None else dict(norm_kwargs)
        if use_global_stats:
            norm_kwargs["use_global_stats"] = True
        plan = stage_plan(4 if dilated else dilation)
        self.num_classes, self.classes = classes, None
        self.in_channels, self.return_stages, self.input_size = in_channels, return_stages, input_size
        block_args = dict(radix=radix, cardinality=cardinality, bottleneck_width=bottleneck_width, avd=avd,
                          avd_first=avd_first, last_gamma=last_gamma, norm_layer=norm_layer, norm_kwargs=norm_kwargs,
                          split_drop_ratio=split_drop_ratio)
        with self.name_scope():
            inplanes = stem_width * 2 if deep_stem else 64
            if deep_stem:
                self.conv1 = nn.HybridSequential(prefix="conv1")
                self.conv1.add(nn.Conv2D(stem_width, 3, 2, 1, use_bias=False, in_channels=in_channels),
                               norm_layer(in_channels=stem_width, **norm_kwargs), nn.Activation("relu"),
                               nn.Conv2D(stem_width, 3, 1, 1, use_bias=False, in_channels=stem_width),
                               norm_layer(in_channels=stem_width, **norm_kwargs), nn.Activation("relu"),
                               nn.Conv2D(inplanes, 3, 1, 1, use_bias=False, in_channels=stem_width))
            else:
                self.conv1 = nn.Conv2D(inplanes, 7, 2, 3, use_bias=False, in_channels=in_channels)
            self.bn1 = norm_layer(in_channels=inplanes, **norm_kwargs)
            self.relu = nn.Activation("relu")
            self.maxpool = nn.MaxPool2D(3, 2, 1)
            for index, ((strides, dil, first_dil), planes, blocks) in enumerate(
                    zip(plan, (64, 128, 256, 512), layers), start=1):
                stage = self._make_stage(index, inplanes, planes, blocks, strides, dil, first_dil, avg_down,
                                         dropblock=index >= 3, dropblock_prob=dropblock_prob, **block_args)
                setattr(self, "layer%d" % index, stage)
                inplanes = planes * Bottleneck.expansion
            self.avgpool = nn.GlobalAvgPool2D()
            self.flat = nn.Flatten()
            self.drop = nn.Dropout(final_drop) if final_drop > 0 else None
            self.fc = nn.Dense(classes, in_units=inplanes)

    def _make_stage(self, index, inplanes, planes, blocks, strides, dilation, first_dilation, avg_down,
                    norm_layer, norm_kwargs, **block_args):
        outplanes = planes * Bottleneck.expansion
        downsample = None
        if strides != 1 or inplanes != outplanes:
            downsample = nn.HybridSequential(prefix="down%d_" % index)
            with downsample.name_scope():
                if avg_down:
                    if first_dilation == 1:
                        pool = nn.AvgPool2D(strides, strides, ceil_mode=True, count_include_pad=False)
                    elif strides == 1:
                        pool = nn.AvgPool2D(1, 1, ceil_mode=True, count_include_pad=False)
                    else:
                        pool = nn.AvgPool2D(first_dilation * strides, strides, padding=1, ceil_mode=True,
                                            count_include_pad=False)
                    downsample.add(pool, nn.Conv2D(outplanes, 1, 1, use_bias=False, in_channels=inplanes))
                else:
                    downsample.add(nn.Conv2D(outplanes, 1, strides, use_bias=False, in_channels=inplanes))
                downsample.add(norm_layer(in_channels=outplanes, **norm_kwargs))
        stage = nn.HybridSequential(prefix="layers%d_" % index)
        with stage.name_scope():
            stage.add(Bottleneck(inplanes, planes, strides, first_dilation, dilation, downsample,
                                 norm_layer=norm_layer, norm_kwargs=norm_kwargs, **block_args))
            for _ in range(1, blocks):
                stage.add(Bottleneck(outplanes, planes, 1, dilation, dilation, norm_layer=norm_layer,
                                     norm_kwargs=norm_kwargs, **block_args))
        return stage

    def forward(self, x, *args):
        if isinstance(x, mx.nd.NDArray):
            self.check_input_shape(x.shape)
        return super().forward(x, *args)

    def check_input_shape(self, shape):
        """Raise ``ValueError`` unless ``shape`` is ``(N, in_channels, H, W)`` with ``H, W >= 32``."""
        if len(shape) != 4:
            raise ValueError("ResNeSt expects a 4-D NCHW batch (N, %d, H, W), got shape %s"
                             % (self.in_channels, tuple(shape)))
        if shape[1] != self.in_channels:
            raise ValueError("ResNeSt expects %d input channels (NCHW layout), got %d in shape %s"
                             % (self.in_channels, shape[1], tuple(shape)))
        if min(shape[2], shape[3]) < MIN_INPUT_SIZE:
            raise ValueError("input %dx%d is too small: ResNeSt downsamples by 32, so height and width must be "
                             "at least %d pixels" % (shape[2], shape[3], MIN_INPUT_SIZE))

    def stages(self, F, x):
        """The four stage outputs for an input batch (see the class docstring for shapes)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        c1 = self.layer1(x)
        c2 = self.layer2(c1)
        c3 = self.layer3(c2)
        return c1, c2, c3, self.layer4(c3)

    def hybrid_forward(self, F, x):
        stages = self.stages(F, x)
        if self.return_stages:
            return stages
        x = self.flat(self.avgpool(stages[-1]))
        if self.drop is not None:
            x = self.drop(x)
        return self.fc(x)

    def reset_classifier(self, classes, ctx=None, init=None):
        """Replace the classifier by a freshly initialized ``Dense(classes)`` (for fine-tuning); class names are
        cleared."""
        if classes < 1:
            raise ValueError("classes must be positive, got %r" % (classes,))
        with self.name_scope():
            self.fc = nn.Dense(classes, in_units=self.fc._in_units)
        self.fc.initialize(init or mx.init.Xavier(), ctx=ctx)
        self.num_classes, self.classes = classes, None
        self._clear_cached_op()
